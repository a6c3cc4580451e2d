from django.urls import path

from . import views

app_name = "declared_sample"
urlpatterns = [path("", views.index, name="index")]
