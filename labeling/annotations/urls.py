from django.urls import path

from . import api, api_history, review_api, review_views, views

urlpatterns = [
    path("p/<slug:slug>/annotate/", views.annotate_page, name="annotate"),
    path("p/<slug:slug>/review/", review_views.review_page, name="review"),
    path("api/projects/<slug:slug>/batches/", api.LeaseBatchView.as_view(), name="api-lease-batch"),
    path("api/projects/<slug:slug>/batches/renew/", api.RenewLeasesView.as_view(), name="api-renew-leases"),
    path("api/projects/<slug:slug>/annotations/", api.AnswerView.as_view(), name="api-answer"),
    path("api/projects/<slug:slug>/annotations/undo/", api.UndoView.as_view(), name="api-undo"),
    path("api/projects/<slug:slug>/annotations/history/", api_history.HistoryView.as_view(), name="api-history"),
    path("api/projects/<slug:slug>/annotations/change/", api_history.ChangeAnswerView.as_view(),
         name="api-change-answer"),
    path("api/projects/<slug:slug>/agreement/", api.AgreementView.as_view(), name="api-agreement"),
    path("api/projects/<slug:slug>/review/", api.ReviewQueueView.as_view(), name="api-review"),
    path("api/projects/<slug:slug>/review/groups/", review_api.ReviewGroupsView.as_view(), name="api-review-groups"),
    path("api/projects/<slug:slug>/review/bulk/", review_api.ReviewBulkView.as_view(), name="api-review-bulk"),
]
