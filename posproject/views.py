from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.defaults import page_not_found


@login_required
def home(request):
    """The start page: links to what this user's role may open."""
    return render(request, "home.html")


def not_found(request, exception=None):
    """404s: under /api/ the API's error body (no HTML page for a client that reads JSON), elsewhere the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "message": "No such API address.", "fields": {}}, status=404)
    return page_not_found(request, exception)
