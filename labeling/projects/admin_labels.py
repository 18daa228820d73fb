"""The admin's label pages: a label's own page (LabelAdmin) and the project page's label rows
(LabelInline). Both check the project's labels as the save would leave them, with the labels page's
and the API's checks (taxonomy.label_set_errors: two levels, one top-level Other, no look-alike
names; hotkeys.check_unique_hotkeys), under the label writers' lock (locks.lock_project_labels)."""
from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.forms.models import BaseInlineFormSet

from .admin_rows import ComposedNames, GuardedRowForm
from .hotkeys import HotkeyField, check_unique_hotkeys
from .locks import lock_labels_to_delete, lock_project_labels
from .models import Label, Project
from .services import in_use_message
from .stale_edits import PageRowsMixin
from .taxonomy import label_set_errors

# The fields of a label row the rows are checked on as a whole (label_set_problems), in its order.
SET_FIELDS = ("name", "parent", "is_other", "hotkey")


def lock_labels_of(project_ids) -> None:
    """The label writers' lock (locks.lock_project_labels) on each of these projects, in id order as
    every writer takes several, before the admin reads or checks any label: a label saved elsewhere
    at the same moment is then seen by the checks, or waits for this save and sees it."""
    for project in Project.objects.filter(pk__in=set(project_ids)).order_by("pk"):
        lock_project_labels(project)


def label_set_problems(project_id, rows: dict, deleted_ids=()) -> dict[str, list[str]]:
    """Why the project's labels cannot be as a save leaves them, as {field: messages} (NON_FIELD_ERRORS
    for a hotkey two labels share); empty when they can. ``rows``: key → (name, parent id, is_other,
    hotkey) of the labels the save writes (a label id, or any other key for a new one); every other
    stored label counts as stored, one saved elsewhere since the page was loaded included: a row must
    not become its look-alike, a second Other or its hotkey's twin."""
    stored = {pk: (name, parent, is_other, hotkey) for pk, name, parent, is_other, hotkey in Label.objects.filter(
        project_id=project_id).values_list("pk", "name", "parent_id", "is_other", "hotkey")} if project_id else {}
    gone = set(deleted_ids)
    final = {pk: row for pk, row in stored.items() if pk not in gone} | dict(rows)
    errors = label_set_errors({key: row[:3] for key, row in final.items()},
                              {pk: stored[pk][0] for pk in gone if pk in stored},
                              {pk: row[0] for pk, row in stored.items()})
    try:
        check_unique_hotkeys((name, hotkey) for name, _, _, hotkey in final.values())
    except ValidationError as exc:
        errors[NON_FIELD_ERRORS] = exc.messages
    return errors


class LabelInlineFormSet(PageRowsMixin, BaseInlineFormSet):
    """The project page's label rows are checked as a whole, as the labels page checks them (two
    levels, one top-level Other, no two names that look alike, no shared hotkey): each row alone
    passes its checks while two rows ticking Other would fail the commit (a 500), and two rows with
    one hotkey would answer the wrong label on the annotation page. ProjectAdmin.changeform_view holds
    the project's label lock while they are checked and saved. A row saves only what the page
    changed (GuardedRowForm); one deleted or changed by someone else meanwhile is refused, saying so."""

    thing = "label"

    def clean(self):
        # Rows ticked for deletion are locked before Django looks for answers and fine labels on them
        # (super().clean()): an answer stored after that look would fail the deletion's commit.
        ticked = [form.instance for form in self.forms
                  if form.instance.pk and (getattr(form, "cleaned_data", None) or {}).get("DELETE")]
        lock_labels_to_delete(label.pk for label in ticked)
        # Django's own look (the inline form's hand_clean_DELETE, run by super().clean()) would say
        # "protected related objects: Annotation object (1)"; the product's message says first how
        # many answers are live and how many only history, and what to do.
        in_use = labels_in_use_messages(ticked)
        if in_use:
            raise ValidationError(in_use)
        super().clean()
        rows, deleted = {}, set()
        for i, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", None) or {}
            label = form.instance
            if data.get("DELETE"):
                if label.pk:
                    deleted.add(label.pk)
                continue
            if not data and not label.pk:
                continue  # an empty extra row
            name, parent, is_other, hotkey = (self._checked_value(form, field) for field in SET_FIELDS)
            rows[label.pk or f"new {i}"] = (name or "", getattr(parent, "pk", parent), bool(is_other), hotkey or "")
        errors = label_set_problems(self.instance.pk, rows, deleted)
        if errors:
            raise ValidationError([message for messages in errors.values() for message in messages])

    @staticmethod
    def _checked_value(form, field):
        """The row's ``field`` as the whole set is checked with it. A value the row's own checks refused
        (Label.clean: a parent from another project or under another label, a name of invisible
        characters) is already explained beside the row: the set is checked with the value as stored
        instead, so that the same problem is not said again above the rows in other words."""
        if field in form.errors:
            return form.initial.get(field)
        return (getattr(form, "cleaned_data", None) or {}).get(field, form.initial.get(field))


class HotkeyAsTyped:
    """A label's hotkey read as its key types it (NFC, hotkeys.HotkeyField) before the one-character
    limit judges it, as on the labels page: a decomposed "e" + U+0301 is the key "é"."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "hotkey":
            kwargs["form_class"] = HotkeyField
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class LabelInline(HotkeyAsTyped, admin.TabularInline):
    model = Label
    form = GuardedRowForm
    fk_name = "project"
    formset = LabelInlineFormSet
    extra = 0


class LabelAdminForm(ComposedNames, forms.ModelForm):
    """A label's own page: the label's checks (Label.clean, its constraints), then the project's
    labels with this one as the form leaves it (label_set_problems), as the labels page checks a save."""

    def _get_validation_exclusions(self):
        # The project is read-only on a stored label's page (LabelAdmin.get_readonly_fields), so Django
        # leaves it out of the model's checks; the look-alike name check and both constraints are on it
        # (Label.validate_constraints): left out, a taken name or a second Other failed the commit (a 500).
        exclude = super()._get_validation_exclusions()
        if self.instance.pk:
            exclude.discard("project")
        return exclude

    def _post_clean(self):
        super()._post_clean()
        if self.errors:  # the label alone is refused already: its own message says why
            return
        label = self.instance
        row = (label.name, label.parent_id, label.is_other, label.hotkey or "")
        for field, messages in label_set_problems(label.project_id, {label.pk or "new": row}).items():
            self.add_error(field if field in self.fields else None, messages)


@admin.register(Label)
class LabelAdmin(HotkeyAsTyped, admin.ModelAdmin):
    """Adding, changing and deleting a label take the label writers' lock on its project (and on the
    project it is moved to) before the label is checked, as every other label writer does."""
    form = LabelAdminForm
    list_display = ["name", "project", "parent", "hotkey", "precision_target", "recall_target", "is_other"]
    list_filter = ["project"]
    search_fields = ["name"]

    def get_readonly_fields(self, request, obj=None):
        return ("project",) if obj else ()  # a label stays in its project (Label.clean)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic():
            label = self.get_object(request, unquote(object_id)) if object_id else None
            lock_labels_of([*([label.project_id] if label else []), *_posted_project(request)])
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_deleted_objects(self, objs, request):
        """What a deletion would take and what stops it (answers, fine labels): looked for under the
        locks (the view's transaction, or response_action's), so that what is found still holds when
        the labels are deleted."""
        labels = list(objs)
        if request.method == "POST":
            lock_labels_of(label.project_id for label in labels)
            lock_labels_to_delete(label.pk for label in labels)
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(labels, request)
        in_use = labels_in_use_messages(labels) if protected else []
        # The product's reason (how many answers are live, how many only history; what to do), not
        # Django's list of "Annotation object (1)"; Django's stays for anything else that protects.
        return deleted, model_count, perms_needed, in_use or protected

    def response_action(self, request, queryset):
        with transaction.atomic():  # "delete selected": its locks hold until the labels are deleted
            return super().response_action(request, queryset)


def labels_in_use_messages(labels) -> list[str]:
    """Why each of ``labels`` that an answer (undone and changed ones too: the audit trail) or a fine
    label refers to cannot be deleted (the models' PROTECTs refuse it), in the labels' order: the
    product's words (services.in_use_message), counted for all of them in one query however
    many rows are ticked."""
    pks = [label.pk for label in labels]
    counted = {row["pk"]: row for row in Label.objects.filter(pk__in=pks).values("pk").annotate(
        answers=Count("annotations"), history=Count("annotations", filter=Q(annotations__undone=True)),
        has_children=Exists(Label.objects.filter(parent=OuterRef("pk"))))}
    said = []
    for label in labels:
        row = counted.get(label.pk)
        if row and (row["answers"] or row["has_children"]):
            said.append(in_use_message(label.name, row["answers"], row["history"]))
    return said


def _posted_project(request) -> list[int]:
    """The project a label form posts (an id; anything else is the form's to refuse)."""
    try:
        return [int(request.POST.get("project", ""))]
    except ValueError:
        return []
