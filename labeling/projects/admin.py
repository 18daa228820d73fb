from contextlib import ExitStack

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse

from labeling.items.import_lock import SourcesBusy, lock_sources_for_change, sources_change_atomic
from labeling.loop.replanning import request_replan

from . import admin_users  # noqa: F401 - registers the users' admin (a project keeps a lead)
from .admin_labels import LabelInline, lock_labels_of
from .admin_members import MembershipInline
from .admin_rows import GuardedRowForm, ReadableJSONField
from .deletion import ProjectBusy, delete_project, deletion_counts, project_folders, work_in_progress
from .label_names import source_name_errors
from .models import Project, Rule, Source
from .reserved import SHARED_ARTIFACT_FOLDERS, reserved_message
from .services import SETTINGS_FIELDS, update_settings
from .shares import check_quota_total
from .stale_edits import PageRowsMixin


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


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ["pattern", "kind", "label", "project", "enabled"]
    list_filter = ["project", "kind", "enabled"]
    formfield_overrides = {models.CharField: {"strip": False}}  # a regex's outer spaces are part of it
