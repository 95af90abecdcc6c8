"""The sign-in page (named "login", outside any namespace, as Django's auth expects)."""

from django.urls import path

from staff import views

urlpatterns = [path("accounts/login/", views.LoginView.as_view(), name="login")]
