"""The admin's view-only registrations: rows that only the product's write paths may add, change or
delete, because those paths keep something right alongside them that a form here would skip (each
subclass says what). Superusers still see every row and its fields."""
from django.contrib import admin


class ViewOnlyAdmin(admin.ModelAdmin):
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
