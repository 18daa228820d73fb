from django.urls import path

from . import api, browse_api, browse_views, views

app_name = "items"

urlpatterns = [
    path("p/<slug:slug>/import/", views.import_page, name="import"),
    path("p/<slug:slug>/import/<int:batch_id>/", views.import_detail, name="import-detail"),
    path("p/<slug:slug>/import/<int:batch_id>/rejects.csv", views.import_rejects, name="import-rejects"),
    path("p/<slug:slug>/items/", browse_views.browse_page, name="browse"),
    path("p/<slug:slug>/items/bulk/", browse_views.bulk_action, name="bulk"),
    path("p/<slug:slug>/items/<int:item_id>/", browse_views.item_page, name="item"),
    path("api/projects/<slug:slug>/imports/", api.ImportList.as_view(), name="api-imports"),
    path("api/projects/<slug:slug>/imports/<int:batch_id>/", api.ImportDetail.as_view(), name="api-import"),
    path("api/projects/<slug:slug>/items/", browse_api.ItemList.as_view(), name="api-items"),
    path("api/projects/<slug:slug>/items/bulk/", browse_api.ItemBulk.as_view(), name="api-items-bulk"),
    path("api/projects/<slug:slug>/items/<int:item_id>/", browse_api.ItemDetail.as_view(), name="api-item"),
    path("api/projects/<slug:slug>/answers/", browse_api.AnswerList.as_view(), name="api-answers"),
]
