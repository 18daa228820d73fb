from django.contrib import admin

from labeling.projects.admin_view_only import ViewOnlyAdmin

from .models import Annotation, Assignment, ReviewTask


@admin.register(Annotation)
class AnnotationAdmin(ViewOnlyAdmin):
    """A lease or an answer written here would skip what the product's write paths keep right
    alongside it: the wave items' slot counts (taken, done), the disagreement queue, and the answers'
    audit trail (a changed answer is a new row that supersedes the old one:
    labeling.annotations.history). Change answers on the product's pages."""

    list_display = ["item", "label", "annotator", "origin", "skipped", "undone", "created_at"]
    list_filter = ["project", "origin", "skipped", "undone"]
    raw_id_fields = ["item", "assignment", "label"]


@admin.register(Assignment)
class AssignmentAdmin(ViewOnlyAdmin):
    """Leases: see AnnotationAdmin."""

    list_display = ["wave_item", "annotator", "state", "leased_at", "expires_at"]
    list_filter = ["state"]
    raw_id_fields = ["wave_item"]


@admin.register(ReviewTask)
class ReviewTaskAdmin(ViewOnlyAdmin):
    """The review queue: a task is opened by the disagreement and model-review checks (one open task
    per item and reason) and resolved on the review page, which writes the resolving answer with it.
    A task added or resolved here would have no answer behind it and skip the queue's one-per-item rule."""

    list_display = ["item", "reason", "project", "resolved_label", "resolved_at"]
    list_filter = ["project", "reason"]
    raw_id_fields = ["item"]
