from django.urls import path

from . import api, views

app_name = "items"

urlpatterns = [
    path("p/<slug:slug>/import/", views.import_page, name="import"),
    path("p/<slug:slug>/import/<int:batch_id>/", views.import_detail, name="import-detail"),
    path("p/<slug:slug>/import/<int:batch_id>/rejects.csv", views.import_rejects, name="import-rejects"),
    path("api/projects/<slug:slug>/imports/", api.ImportList.as_view(), name="api-imports"),
    path("api/projects/<slug:slug>/imports/<int:batch_id>/", api.ImportDetail.as_view(), name="api-import"),
]
