from django.urls import path

from . import views

app_name = "mdf"

urlpatterns = [
    path("requests/<str:code>/", views.request_detail, name="request"),
]
