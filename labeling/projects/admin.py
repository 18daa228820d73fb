from contextlib import ExitStack

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse

from labeling.items.import_lock import SourcesBusy, lock_sources_for_change, sources_change_atomic
from labeling.loop.replanning import request_replan

from . import admin_users  # noqa: F401 - registers the users' admin (a project keeps a lead)
from .admin_members import MembershipInline
from .admin_rows import ComposedNames, GuardedRowForm, ReadableJSONField
from .deletion import ProjectBusy, delete_project, deletion_counts, project_folders, work_in_progress
from .hotkeys import HotkeyField
from .label_names import source_name_errors
from .locks import lock_labels_to_delete, lock_project_labels
from .models import Label, Project, Rule, Source
from .reserved import SHARED_ARTIFACT_FOLDERS, reserved_message
from .services import SETTINGS_FIELDS, in_use_message, update_settings
from .shares import check_quota_total
from .stale_edits import PageRowsMixin
from .taxonomy import label_set_errors

# The fields of a label row the rows are checked on as a whole (labeling.projects.taxonomy.label_set_errors).
SET_FIELDS = ("name", "parent", "is_other")


def lock_labels_of(project_ids) -> None:
    """The label writers' lock (locks.lock_project_labels) on each of these projects, in id order as
    every writer takes several, before the admin reads or checks any label: a label saved elsewhere
    at the same moment is then seen by the checks, or waits for this save and sees it."""
    for project in Project.objects.filter(pk__in=set(project_ids)).order_by("pk"):
        lock_project_labels(project)


class LabelInlineFormSet(PageRowsMixin, BaseInlineFormSet):
    """The project page's label rows are checked as a whole, as the labels page checks them (two
    levels, one top-level Other, no two names that look alike): each row alone passes its checks
    while two rows ticking Other would fail the commit (a 500). ProjectAdmin.changeform_view holds
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
        # Every stored label counts, not only the page's rows: one saved elsewhere since the page was
        # loaded is not among them, and a row must not become its look-alike or a second Other.
        stored = {pk: (name, parent, is_other) for pk, name, parent, is_other in Label.objects.filter(
            project_id=self.instance.pk).values_list("pk", "name", "parent_id", "is_other")} if self.instance.pk else {}
        final, deleted = dict(stored), {}
        for i, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", None) or {}
            label = form.instance
            if data.get("DELETE"):
                if label.pk in final:
                    deleted[label.pk] = final.pop(label.pk)[0]
                continue
            if not data and not label.pk:
                continue  # an empty extra row
            name, parent, is_other = (self._checked_value(form, field) for field in SET_FIELDS)
            final[label.pk or f"new {i}"] = (name or "", getattr(parent, "pk", parent), bool(is_other))
        stored_names = {pk: name for pk, (name, _, _) in stored.items()}
        errors = label_set_errors(final, deleted, stored_names)
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


class SourceInlineFormSet(PageRowsMixin, BaseInlineFormSet):
    """The project page's source rows: a save that changes or deletes one first locks the project's
    sources (import_lock.lock_sources_for_change), before Django looks for a deleted source's items.
    While an import writes, that waits a bounded time and is then refused with a message above the
    rows, nothing saved; before, the look for items saw none of the import's yet and the deletion
    failed its commit on the items' foreign key (a 500). A save that leaves the rows alone does not wait.
    Changed rows must leave quotas that add up to 1, as the sources page and the API require (the
    planner splits each wave by them); a row saves only what the page changed (GuardedRowForm)."""

    thing = "source"
    # SourcesBusy when the save's transaction could not begin (ProjectAdmin.changeform_view, SQLite):
    # the rows are shown again with the message, whatever they changed, and nothing is saved.
    refused: SourcesBusy | None = None

    def full_clean(self):
        self._busy = self.refused
        if self._busy is None and self.is_bound and self.instance.pk and any(form.has_changed() for form in self.forms):
            try:
                lock_sources_for_change(self.instance)
            except SourcesBusy as exc:
                self._busy = exc
        super().full_clean()

    def clean(self):
        super().clean()
        if self._busy is not None:
            raise self._busy
        if any(self.errors) or (self.instance.pk and not self.has_changed()):
            return
        # The sources as the save leaves them: the page's rows, and any added elsewhere since it loaded.
        stored = {pk: (name, quota) for pk, name, quota in Source.objects.filter(project_id=self.instance.pk)
                  .values_list("pk", "name", "quota")} if self.instance.pk else {}
        quotas = {pk: quota for pk, (_, quota) in stored.items()}
        names = {pk: name for pk, (name, _) in stored.items()}
        for i, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", None) or {}
            if self.can_delete and self._should_delete_form(form):
                quotas.pop(form.instance.pk, None)
                names.pop(form.instance.pk, None)
            elif data and (form.instance.pk or form.has_changed()):
                quotas[form.instance.pk or f"new {i}"] = data.get("quota") or 0.0
                names[form.instance.pk or f"new {i}"] = data.get("name") or ""
        # The sources page's and the API's name rules (control characters, nothing visible, look-alikes, mixed scripts).
        if errors := source_name_errors(names, {pk: name for pk, (name, _) in stored.items()}):
            raise ValidationError(errors)
        check_quota_total(quotas.values())

    def save(self, commit=True):
        """Quotas and sources shape waves: a changed row re-plans the wave waiting to be opened once the
        page's transaction commits, as a save on the sources page or the API does (replace_sources)."""
        saved = super().save(commit)
        if self.instance.pk and self.has_changed():
            request_replan(self.instance)
        return saved


class SourceInline(admin.TabularInline):
    model = Source
    form = GuardedRowForm
    formset = SourceInlineFormSet
    extra = 0

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)  # a class of its own, made for this request
        formset.refused = getattr(request, "sources_busy", None)
        return formset


class ProjectAdminForm(GuardedRowForm):
    class Meta:
        model = Project
        fields = "__all__"
        field_classes = {"strategy_mix": ReadableJSONField, "annotator_metadata": ReadableJSONField}

    def clean_slug(self):
        """A new project's slug may not name a shared folder (labeling.projects.reserved). A stored
        project's slug is read-only here (ProjectAdmin.get_readonly_fields), as in the API: its
        folders of models and imports are named by it."""
        slug = self.cleaned_data["slug"]
        if slug != self.initial.get("slug") and slug in SHARED_ARTIFACT_FOLDERS:
            raise ValidationError(reserved_message(slug))
        return slug


class SettingsRefused(Exception):
    """The settings service refused a project page's save (its ValidationError in ``error``)."""

    def __init__(self, error: ValidationError):
        super().__init__(error)
        self.error = error


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    form = ProjectAdminForm
    list_display = ["slug", "name", "wave_size", "batch_size", "created_at"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [SourceInline, MembershipInline, LabelInline]

    def get_readonly_fields(self, request, obj=None):
        return ("slug",) if obj else ()

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj else self.prepopulated_fields

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A save of a project's page checks and writes its label rows under the project's label lock,
        taken before the page is read (a new project has no labels another writer could meet). The
        project's row first, as planning and deletion take it before the labels: the other way round,
        a plan or a deletion at the same moment deadlocked with the save.

        The transaction is the sources' (import_lock.sources_change_atomic): on SQLite (the demo) its
        BEGIN waits for an import's write a bounded time, then the page comes back with every edit
        and the sources' message, nothing saved; it waited for the whole import, and past SQLite's
        busy timeout failed with "database is locked"."""
        if request.method != "POST" or object_id is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        try:
            return self._locked_changeform_view(request, object_id, form_url, extra_context)
        except SettingsRefused as refused:  # raised inside the transaction, which rolled back all of the save
            self.message_user(request, " ".join(refused.error.messages), messages.ERROR)
            return HttpResponseRedirect(request.path)

    def _locked_changeform_view(self, request, object_id, form_url, extra_context):
        project = self.get_object(request, unquote(object_id))
        with ExitStack() as stack:
            try:
                stack.enter_context(sources_change_atomic(project) if project is not None else transaction.atomic())
            except SourcesBusy as exc:
                # Django's changeform_view would open a transaction of its own, whose BEGIN waits for
                # the import again: its body runs without one, the source rows refused (only reads).
                request.sources_busy = exc
                return self._changeform_view(request, object_id, form_url, extra_context)
            if project is not None:  # NO KEY UPDATE, as its save takes: label writers' inserts (KEY SHARE) go on
                Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
            lock_labels_of([project.pk] if project is not None else [])
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        """A stored project's settings are saved by the settings page's service (services.update_settings),
        so that what follows a save there follows one here: a changed band or review share routes the
        review queue again, a change that shapes waves re-plans the wave waiting to be opened. The form
        ran the model's checks, which are the service's: a refusal here is said with nothing saved
        (SettingsRefused ends the page's transaction, changeform_view says why)."""
        if not change:
            return super().save_model(request, obj, form, change)
        stored = Project.objects.get(pk=obj.pk)  # locked by changeform_view
        changes = {field: getattr(obj, field) for field in SETTINGS_FIELDS
                   if getattr(obj, field) != getattr(stored, field)}
        try:
            update_settings(stored, changes)
        except ValidationError as exc:
            # Out of the transaction with nothing saved: marking it for rollback and going on ran
            # the related rows' saves and the admin's log entry in a broken transaction (a 500).
            raise SettingsRefused(exc) from exc

    # Deleting goes through labeling.projects.deletion: the models' PROTECTs (answers on a label,
    # items of a source, fine labels under a coarse one) would refuse every project here.
    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def get_deleted_objects(self, objs, request):
        """What the confirmation page lists: the rows of each kind (not every row: a project has
        millions) and the folders. Work in progress is shown as what stops the deletion."""
        summary, model_count, busy = [], {}, []
        for project in objs:
            counts = deletion_counts(project)
            folders = [f"folder {folder}" for folder in project_folders(project) if folder.exists()]
            summary += [f"Project “{project.name}” ({project.slug})",
                        [f"{n:,} {what}" for what, n in counts.items() if n] + folders]
            for what, n in counts.items():
                model_count[what] = model_count.get(what, 0) + n
            busy += [f"{project.slug}: {work} — wait for it to end, or run "
                     f"“manage.py delete_project {project.slug} --force”" for work in work_in_progress(project)]
        return summary, {what: n for what, n in model_count.items() if n}, set(), busy

    def delete_model(self, request, obj):
        try:
            delete_project(obj)
        except (ProjectBusy, Project.DoesNotExist) as exc:  # work started, or it was deleted, since the page
            self.message_user(request, str(exc), messages.ERROR)

    def delete_queryset(self, request, queryset):
        for project in queryset:
            self.delete_model(request, project)

    def response_delete(self, request, obj_display, obj_id):
        if Project.objects.filter(pk=obj_id).exists():  # delete_model refused (its message says why)
            return HttpResponseRedirect(reverse("admin:projects_project_change", args=[obj_id]))
        return super().response_delete(request, obj_display, obj_id)


class LabelAdminForm(ComposedNames, forms.ModelForm):
    pass


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


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ["pattern", "kind", "label", "project", "enabled"]
    list_filter = ["project", "kind", "enabled"]
    formfield_overrides = {models.CharField: {"strip": False}}  # a regex's outer spaces are part of it
