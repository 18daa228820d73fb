from django.contrib import admin

from labeling.projects.admin_view_only import ViewOnlyAdmin

from .models import Wave, WaveItem


@admin.register(Wave)
class WaveAdmin(ViewOnlyAdmin):
    """Waves are planned, opened, closed and discarded by the waves page and API only
    (labeling.waves.services): they keep one open wave and one planned wave per project, number the
    waves in order and fill each with its picks. A wave added here, or a planned one set to open, made
    a second open wave: the waves page showed an empty one while annotators got items from the other."""

    list_display = ["project", "number", "state", "size", "cold_start", "created_at"]
    list_filter = ["project", "state"]


@admin.register(WaveItem)
class WaveItemAdmin(ViewOnlyAdmin):
    """A wave's picks come from the planner with their inclusion probabilities, which the estimates
    weight answers by, and their slot counts are kept by the leases: a pick added or edited here
    would skew the estimates and the counts."""

    list_display = ["wave", "item", "strategy", "inclusion_prob", "predicted_label", "batch_number"]
    list_filter = ["strategy"]
    raw_id_fields = ["item", "wave", "predicted_label"]
