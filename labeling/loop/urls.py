from django.urls import path

from . import api

urlpatterns = [
    path("api/projects/<slug:slug>/tasks/", api.ProjectTaskList.as_view(), name="api-project-tasks"),
    path("api/tasks/<int:pk>/", api.TaskDetail.as_view(), name="api-task"),
]
