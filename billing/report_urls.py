from django.urls import path

from billing import report_views

app_name = "reports"
urlpatterns = [
    path("", report_views.sales, name="sales"),
    path("year/", report_views.year_over_year, name="year"),
    path("csv/<slug:report>/", report_views.sales_csv, name="sales-csv"),
    path("sessions/", report_views.session_list, name="sessions"),
    path("sessions/<int:pk>/x/", report_views.x_report, name="x-report"),
    path("sessions/<int:pk>/x/print/", report_views.print_x_report, name="x-report-print"),
    path("z/<int:pk>/", report_views.z_report, name="z-report"),
    path("z/<int:pk>/reprint/", report_views.reprint_z_report, name="z-report-reprint"),
]
