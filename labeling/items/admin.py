from django import forms
from django.contrib import admin

from .json_object import metadata_problem
from .models import ImportBatch, Item


class ItemForm(forms.ModelForm):
    """An item's metadata is a JSON object, as every import stores it and the database's constraint
    requires: the export's metadata columns and the annotation page read its keys. An empty field
    means no metadata ({}), not a missing value the database refuses."""

    class Meta:
        model = Item
        fields = "__all__"

    def clean_metadata(self):
        metadata = self.cleaned_data.get("metadata")
        if metadata is None:
            return {}
        problem = metadata_problem(metadata)
        if problem:
            raise forms.ValidationError(problem, code="not_an_object")
        return metadata


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    form = ItemForm
    list_display = ["id", "project", "source", "external_id", "dup_group", "created_at"]
    list_filter = ["project", "source"]
    search_fields = ["text", "external_id"]
    raw_id_fields = ["import_batch"]


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ["filename", "project", "state", "rows_imported", "rows_rejected", "created_at"]
    list_filter = ["project", "state"]
