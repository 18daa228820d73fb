from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse

from .deletion import ProjectBusy, delete_project, deletion_counts, project_folders, work_in_progress
from .models import Label, Membership, Project, Rule, Source
from .taxonomy import label_set_errors


class LabelInlineFormSet(BaseInlineFormSet):
    """The project page's label rows are checked as a whole, as the labels page checks them (two
    levels, one top-level Other): each row alone passes its checks while two rows ticking Other
    would fail the commit (a 500)."""

    def clean(self):
        super().clean()
        final, deleted = {}, {}
        for i, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", None) or {}
            label = form.instance
            if data.get("DELETE"):
                if label.pk:
                    deleted[label.pk] = label.name
                continue
            if not data and not label.pk:
                continue  # an empty extra row
            parent = data.get("parent", label.parent if label.parent_id else None)
            final[label.pk or f"new {i}"] = (data.get("name", label.name), parent.pk if parent else None,
                                              data.get("is_other", label.is_other))
        # A row's own checks (Label.clean) already name what is wrong with that row, beside it: the
        # same message again above the rows would say it twice.
        shown = {message for form in self.forms for messages in form.errors.values() for message in messages}
        errors = [message for messages in label_set_errors(final, deleted).values() for message in messages
                  if message not in shown]
        if errors:
            raise ValidationError(errors)


class LabelInline(admin.TabularInline):
    model = Label
    fk_name = "project"
    formset = LabelInlineFormSet
    extra = 0


class SourceInline(admin.TabularInline):
    model = Source
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "wave_size", "batch_size", "created_at"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [SourceInline, MembershipInline, LabelInline]

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


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "parent", "hotkey", "precision_target", "recall_target", "is_other"]
    list_filter = ["project"]
    search_fields = ["name"]


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ["pattern", "kind", "label", "project", "enabled"]
    list_filter = ["project", "kind", "enabled"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role"]
    list_filter = ["project", "role"]
