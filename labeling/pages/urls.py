from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<slug:slug>/", views.project_overview, name="project-overview"),
    path("p/<slug:slug>/dashboard/", views.project_dashboard, name="project-dashboard"),
]
