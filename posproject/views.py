from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    """The start page: links to what this user's role may open."""
    return render(request, "home.html")
