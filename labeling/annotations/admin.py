from django.contrib import admin

from .models import Annotation, Assignment, ReviewTask


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["item", "label", "annotator", "origin", "skipped", "undone", "created_at"]
    list_filter = ["project", "origin", "skipped", "undone"]
    raw_id_fields = ["item", "assignment", "label"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["wave_item", "annotator", "state", "leased_at", "expires_at"]
    list_filter = ["state"]
    raw_id_fields = ["wave_item"]


@admin.register(ReviewTask)
class ReviewTaskAdmin(admin.ModelAdmin):
    list_display = ["item", "reason", "project", "resolved_label", "resolved_at"]
    list_filter = ["project", "reason"]
    raw_id_fields = ["item"]
