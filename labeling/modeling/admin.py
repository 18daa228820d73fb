from django.contrib import admin

from .models import ModelVersion, TaskRun


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["project", "number", "state", "train_size", "created_at", "pruned_at"]
    list_filter = ["project", "state"]
    exclude = ["artifact"]
    readonly_fields = ["pruned_at"]


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    list_display = ["project", "kind", "state", "progress", "message", "created_at"]
    list_filter = ["project", "kind", "state"]
