"""The dashboards, under /reports/."""

from django.urls import path

from . import views

app_name = "reporting"

urlpatterns = [
    path("", views.executive_dashboard, name="executive"),
    path("channel/", views.channel_dashboard, name="channel"),
    path("partner/", views.partner_dashboard, name="partner"),
]
