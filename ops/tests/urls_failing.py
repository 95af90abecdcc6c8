"""A URLconf for the Sentry test: the real project URLs plus one view that fails with secrets in sight."""

from django.urls import path

from posproject.urls import urlpatterns as project_urlpatterns


def fails_with_secrets(request):
    password = request.POST.get("password")  # noqa: F841 (a local variable Sentry would capture)
    raise ValueError("card 4111111111111111 declined for token=tok_live_abcdef123456")


urlpatterns = [*project_urlpatterns, path("boom/", fails_with_secrets)]
