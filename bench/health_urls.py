"""The product's URLs plus /bench/bare, the floor the health probes are compared against."""

from django.http import HttpResponse
from django.urls import include, path


def bare(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/bare", bare), path("", include("posproject.urls"))]
