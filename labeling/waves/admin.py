from django.contrib import admin

from .models import Wave, WaveItem


@admin.register(Wave)
class WaveAdmin(admin.ModelAdmin):
    list_display = ["project", "number", "state", "size", "cold_start", "created_at"]
    list_filter = ["project", "state"]


@admin.register(WaveItem)
class WaveItemAdmin(admin.ModelAdmin):
    list_display = ["wave", "item", "strategy", "inclusion_prob", "predicted_label", "batch_number"]
    list_filter = ["strategy"]
    raw_id_fields = ["item", "wave", "predicted_label"]
