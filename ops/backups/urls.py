from django.urls import path

from ops.backups import views

urlpatterns = [
    path("", views.status, name="backups"),
    path("run/", views.backup_now, name="backup-now"),
]
