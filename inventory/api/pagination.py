from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.utils.urls import replace_query_param

MAX_LIMIT = 500
MAX_OFFSET = 10**9  # far beyond any list here, far below the bigint the database compares it with


def _whole_number(request, name: str, *, default: int | None, smallest: int, largest: int) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not value.isascii() or not value.isdigit() or not smallest <= int(value) <= largest:
        raise ValidationError({name: [f"A whole number from {smallest} to {largest:,}."]})
    return int(value)


class Pagination(LimitOffsetPagination):
    """Limit/offset pages with bounds: `limit` 1..MAX_LIMIT, `offset` 0..MAX_OFFSET; anything else is a 400 naming
    the parameter (DRF's own class silently ignores a bad value and passes a huge one to the database)."""

    max_limit = MAX_LIMIT

    def get_limit(self, request):
        return _whole_number(request, self.limit_query_param, default=self.default_limit, smallest=1, largest=MAX_LIMIT)

    def get_offset(self, request):
        return _whole_number(request, self.offset_query_param, default=0, smallest=0, largest=MAX_OFFSET)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.limit_query_param: (1, MAX_LIMIT), self.offset_query_param: (0, MAX_OFFSET)}
        for parameter in parameters:
            smallest, largest = bounds[parameter["name"]]
            parameter["schema"].update(minimum=smallest, maximum=largest)
        return parameters


class SearchPagination(Pagination):
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
