from functools import partial

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect

from labeling.projects.admin_view_only import ViewOnlyAdmin
from labeling.projects.models import Project
from labeling.waves.discard import take_out_deleted
from labeling.waves.models import Wave

from . import bulk
from .json_object import metadata_problem
from .models import ImportBatch, Item
from .signals import picks_withdrawn
from .validation import metadata_bytes
from .values import metadata_key_problem


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

    def _get_validation_exclusions(self):
        # The project is read-only here (FIXED_FIELDS), so Django leaves it out of the model's checks,
        # and with it item_unique_external_id, which is on (project, external_id): another item's id
        # failed the commit (a 500) instead of being said beside the field.
        exclude = super()._get_validation_exclusions()
        if self.instance.pk:
            exclude.discard("project")
        return exclude

    def clean_metadata(self):
        metadata = self.cleaned_data.get("metadata")
        if metadata is None:
            return {}
        problem = metadata_problem(metadata)
        if problem:
            raise forms.ValidationError(problem, code="not_an_object")
        if "metadata" in self.changed_data:  # metadata stored before a limit stays editable beside it
            self._check_as_imported(metadata)
        return metadata

    @staticmethod
    def _check_as_imported(metadata: dict) -> None:
        """What every import refuses (validation.Validator._check_metadata) is refused here too: an
        export holding it would not import back (docs/export.md), the whole file refused."""
        if problem := metadata_key_problem(metadata):
            raise forms.ValidationError(problem[:1].upper() + problem[1:] + ".", code="metadata_key")
        size, limit = metadata_bytes(metadata), settings.LONGTAIL_MAX_METADATA_BYTES
        if size > limit:
            raise forms.ValidationError(
                f"The metadata takes {size:,} bytes as JSON, over the limit of {limit:,} bytes "
                "(LONGTAIL_MAX_METADATA_BYTES) that every import holds an item's metadata to.", code="metadata_size")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("excluded") and cleaned.get("pinned_for_next_wave"):
            raise forms.ValidationError("An excluded item cannot also wait for the next wave: untick one of "
                                        "“Excluded” and “Pinned for next wave”.", code="excluded_and_pinned")
        return cleaned


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

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except FlagRefused as refused:  # raised inside the view's transaction, which rolled back all of the save
            self.message_user(request, str(refused), messages.ERROR)
            return HttpResponseRedirect(request.path)

    def save_model(self, request, obj, form, change):
        """"Excluded" and "Pinned for next wave" change through the item browser's actions (bulk.apply),
        so that what follows them there follows them here: an exclusion takes the item's unheld picks
        out of planned and open waves, tells the loop (a wave left complete closes) and closes its
        low-confidence review tasks; a pin is refused on an answered item, which no wave takes again."""
        stored = Item.objects.filter(pk=obj.pk).values("excluded", "pinned_for_next_wave").first() if change else None
        said = []
        if stored is not None:
            actions = []
            if obj.excluded != stored["excluded"]:
                actions.append("exclude" if obj.excluded else "include")
            if obj.pinned_for_next_wave != stored["pinned_for_next_wave"]:
                actions.append("pin" if obj.pinned_for_next_wave else "unpin")
            for action in actions:
                result = bulk.apply(obj.project, action, [obj.pk], request.user)
                if result.answered:
                    raise FlagRefused(f"Nothing was saved. {result.message}")
                said.append(result.message)
            # as the actions left them: the form's own save writes every field
            obj.excluded, obj.pinned_for_next_wave = Item.objects.values_list(
                "excluded", "pinned_for_next_wave").get(pk=obj.pk)
        super().save_model(request, obj, form, change)
        for message in said:
            self.message_user(request, message, messages.INFO)

    def delete_model(self, request, obj):
        with transaction.atomic():
            withdraw_from_waves([(obj.project_id, obj.pk)])
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            withdraw_from_waves(queryset.values_list("project_id", "pk"))
            super().delete_queryset(request, queryset)


class FlagRefused(Exception):
    """The item browser's action refused an item page's "Excluded" or "Pinned" change (its message)."""


def withdraw_from_waves(project_item_ids) -> None:
    """Before items are deleted (``project_item_ids``: (project id, item id) pairs), in the deletion's
    transaction: their picks leave every wave as deleted ones (waves.discard.take_out_deleted: each
    wave's size shrinks by all of them and its notes say "deleted", where an exclusion kept the
    answered or leased ones, which the cascade then took anyway; the cascade takes their answers,
    leases and review tasks), and the loop is told once this commits, so that an open wave
    whose last unanswered pick goes with them closes and retrains. Deleted alone, the cascade took
    the pick and nothing told the loop: the wave stayed open."""
    by_project: dict[int, list[int]] = {}
    for project_id, pk in sorted(project_item_ids):
        by_project.setdefault(project_id, []).append(pk)
    for project in Project.objects.filter(pk__in=list(by_project)).order_by("pk"):
        ids = by_project[project.pk]
        # the project's row lock first, as an exclusion (items.bulk.apply) and a plan take it (NO KEY: see there)
        Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
        if any(w["state"] == Wave.OPEN for w in take_out_deleted(project, ids)):
            transaction.on_commit(partial(picks_withdrawn.send, sender=Item, project=project))


@admin.register(ImportBatch)
class ImportBatchAdmin(ViewOnlyAdmin):
    """An import's row is written by the importer as it runs (state, counts, per-row errors); a
    pending or running one is work in progress that a project's deletion waits for. One added or
    edited here claimed an import that is not running, or hid the errors of one that failed."""

    list_display = ["filename", "project", "state", "rows_imported", "rows_rejected", "created_at"]
    list_filter = ["project", "state"]
