from django import forms
from django.contrib import admin

from labeling.projects.admin_view_only import ViewOnlyAdmin

from .json_object import metadata_problem
from .models import ImportBatch, Item


class ItemForm(forms.ModelForm):
    """An item's metadata is a JSON object, as every import stores it and the database's constraint
    requires: the export's metadata columns and the annotation page read its keys. An empty field
    means no metadata ({}), not a missing value the database refuses."""

    class Meta:
        model = Item
        fields = "__all__"

    def clean_source(self):
        source = self.cleaned_data.get("source")
        if source is not None and source.project_id != self.instance.project_id:
            raise forms.ValidationError(f"The source “{source.name}” belongs to another project; "
                                        "choose one of this item's project.", code="other_project")
        return source

    def clean_metadata(self):
        metadata = self.cleaned_data.get("metadata")
        if metadata is None:
            return {}
        problem = metadata_problem(metadata)
        if problem:
            raise forms.ValidationError(problem, code="not_an_object")
        return metadata


# Why an item's text and what is derived from it cannot change here (shown on its admin page).
FIXED_TEXT = ("The text, its hash and its duplicate group are fixed once imported: the duplicate group "
              "(items with the same text share their labels in the export) and the stored embeddings are keyed "
              "by the text's hash, and the product has no way to edit a text. Import the corrected text as a new "
              "item instead, and exclude this one in the item browser. An item stays in its project.")
FIXED_FIELDS = ("project", "text", "text_hash", "dup_group")


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    form = ItemForm
    list_display = ["id", "project", "source", "external_id", "dup_group", "created_at"]
    list_filter = ["project", "source"]
    search_fields = ["text", "external_id"]
    raw_id_fields = ["import_batch"]
    readonly_fields = FIXED_FIELDS

    def has_add_permission(self, request):
        return False  # items come in through an import, which hashes and groups their texts

    def get_fieldsets(self, request, obj=None):
        fields = [f for f in self.get_fields(request, obj) if f not in FIXED_FIELDS]
        return [(None, {"fields": FIXED_FIELDS, "description": FIXED_TEXT}), ("Editable", {"fields": fields})]


@admin.register(ImportBatch)
class ImportBatchAdmin(ViewOnlyAdmin):
    """An import's row is written by the importer as it runs (state, counts, per-row errors); a
    pending or running one is work in progress that a project's deletion waits for. One added or
    edited here claimed an import that is not running, or hid the errors of one that failed."""

    list_display = ["filename", "project", "state", "rows_imported", "rows_rejected", "created_at"]
    list_filter = ["project", "state"]
