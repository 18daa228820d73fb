from django.contrib import admin

from labeling.projects.admin_view_only import ViewOnlyAdmin

from .models import ModelVersion, TaskRun


@admin.register(ModelVersion)
class ModelVersionAdmin(ViewOnlyAdmin):
    """Versions are written by training (one active version per project, with its artifact, pool
    scores and thresholds) and thinned by `manage.py prune_models`, which keeps the active one and
    deletes the others' files and scores with them. One added or activated here had no artifact, or
    two were active; one deleted here left its files behind."""

    list_display = ["project", "number", "state", "train_size", "created_at", "pruned_at"]
    list_filter = ["project", "state"]
    exclude = ["artifact"]


@admin.register(TaskRun)
class TaskRunAdmin(ViewOnlyAdmin):
    """A run's row is the loop's record of work a worker is doing: planning waits while one is under
    way, and the worker writes its stage and end. One added, edited or deleted here would block the
    plan button for nothing, or let it plan while a retrain still runs."""

    list_display = ["project", "kind", "state", "progress", "message", "created_at"]
    list_filter = ["project", "kind", "state"]
