from rest_framework.pagination import LimitOffsetPagination
from rest_framework.utils.urls import replace_query_param


class SearchPagination(LimitOffsetPagination):
    """Limit/offset pages; with a search query (`q`) the matches are not counted (`count` is null), so a search
    that matches thousands of products still reads only one page of them."""

    template = None

    def paginate_queryset(self, queryset, request, view=None):
        if not request.query_params.get("q"):
            return super().paginate_queryset(queryset, request, view)
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return None
        self.offset = self.get_offset(request)
        self.count = None
        rows = list(queryset[self.offset : self.offset + self.limit + 1])
        self.has_more = len(rows) > self.limit
        return rows[: self.limit]

    def get_next_link(self):
        if self.count is not None:
            return super().get_next_link()
        if not self.has_more:
            return None
        url = self.request.build_absolute_uri()
        url = replace_query_param(url, self.limit_query_param, self.limit)
        return replace_query_param(url, self.offset_query_param, self.offset + self.limit)

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count"]["nullable"] = True
        return response
