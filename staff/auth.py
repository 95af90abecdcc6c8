"""API tokens of API clients (staff.api_clients) and the scope each view asks of them.

`Authorization: Bearer thk_…`. A view declares the scope its writes need with `required_scope` ("sell" or
"manage"; "manage" when it says nothing); reading needs "read". The scope is checked when the token is authenticated,
so it holds for every API view whatever its permission classes; `TokenScope` says the same as a permission class.
Session (staff) requests are not affected: their role decides, as before.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS, BasePermission

from staff.api_clients import InvalidToken, client_for_token, scope_covers
from staff.models import ApiClient

KEYWORD = "Bearer"


def needed_scope(request, view) -> str:
    if request.method in SAFE_METHODS:
        return ApiClient.Scope.READ
    return getattr(view, "required_scope", ApiClient.Scope.MANAGE)


def check_scope(client: ApiClient, request, view) -> None:
    needed = needed_scope(request, view)
    if not scope_covers(client.scope, needed):
        raise exceptions.PermissionDenied(f"This token's scope ({client.scope}) does not allow this ({needed}).")


class ApiTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: Bearer and one token.")
        try:
            client = client_for_token(header[1].decode("ascii"))
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        except InvalidToken as error:
            raise exceptions.AuthenticationFailed(str(error)) from None
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if view is not None:
            check_scope(client, request, view)
        return client.user, client

    def authenticate_header(self, request):
        return KEYWORD


class TokenScope(BasePermission):
    """Requests made with a client's token need the scope the view asks for; others pass."""

    def has_permission(self, request, view):
        if isinstance(request.auth, ApiClient):
            check_scope(request.auth, request, view)
        return True


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "staff.auth.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="AUTHORIZATION", token_prefix=KEYWORD)
