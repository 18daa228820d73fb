from django.urls import path

from . import api, views

urlpatterns = [
    path("p/<slug:slug>/export/", views.export_page, name="project-export"),
    path("p/<slug:slug>/export/labels.<str:fmt>", views.export_labels, name="project-export-labels"),
    path("p/<slug:slug>/export/model.zip", views.export_model, name="project-export-model"),
    path("api/projects/<slug:slug>/export/model/", api.ExportModel.as_view(), name="api-export-model"),
    path("api/projects/<slug:slug>/export/<str:fmt>/", api.ExportLabels.as_view(), name="api-export-labels"),
]
