from django.contrib import admin

from .models import ImportBatch, Item


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "source", "external_id", "dup_group", "created_at"]
    list_filter = ["project", "source"]
    search_fields = ["text", "external_id"]
    raw_id_fields = ["import_batch"]


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ["filename", "project", "state", "rows_imported", "rows_rejected", "created_at"]
    list_filter = ["project", "state"]
