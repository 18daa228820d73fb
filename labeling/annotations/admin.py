from django.contrib import admin

from .models import Annotation, Assignment, ReviewTask


class ViewOnlyAdmin(admin.ModelAdmin):
    """Rows only the product's write paths may change. A lease or an answer written here would
    skip what those paths keep right alongside it: the wave items' slot counts (taken, done), the
    disagreement queue, and the answers' audit trail (a changed answer is a new row that supersedes
    the old one: labeling.annotations.history). Change answers on the product's pages."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        """Refused on the model's own pages. Rows deleted along with what they belong to (a user: the
        user's pre_delete receiver gives their slots back first, labeling.annotations.release; an item
        or a wave, whose wave items and counts go too) are listed on that deletion's page as usual."""
        match = getattr(request, "resolver_match", None)
        own_page = bool(match and (match.url_name or "").startswith(f"{self.opts.app_label}_{self.opts.model_name}_"))
        return not own_page and super().has_delete_permission(request, obj)


@admin.register(Annotation)
class AnnotationAdmin(ViewOnlyAdmin):
    list_display = ["item", "label", "annotator", "origin", "skipped", "undone", "created_at"]
    list_filter = ["project", "origin", "skipped", "undone"]
    raw_id_fields = ["item", "assignment", "label"]


@admin.register(Assignment)
class AssignmentAdmin(ViewOnlyAdmin):
    list_display = ["wave_item", "annotator", "state", "leased_at", "expires_at"]
    list_filter = ["state"]
    raw_id_fields = ["wave_item"]


@admin.register(ReviewTask)
class ReviewTaskAdmin(admin.ModelAdmin):
    list_display = ["item", "reason", "project", "resolved_label", "resolved_at"]
    list_filter = ["project", "reason"]
    raw_id_fields = ["item"]
