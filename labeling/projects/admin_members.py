"""The admin's membership rows (the project page's inline and the Memberships list): every save and
deletion goes through membership.set_member / remove_member, as the members page's do, so a removed
member's unanswered leases go back at once and a project keeps a lead. A page of rows is checked as a
whole under the leads' lock (membership.locked_leads) first: what it refuses is said beside the rows,
nothing saved."""
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse

from .admin_rows import GuardedRowForm
from .last_lead import projects_left_without_a_lead
from .membership import KEEP_A_LEAD_REMOVE, KEEP_A_LEAD_ROLE, locked_leads, remove_member, set_member
from .models import Membership, Project
from .stale_edits import PageRowsMixin


class MembershipInlineFormSet(PageRowsMixin, BaseInlineFormSet):
    thing = "membership"

    def clean(self):
        super().clean()
        if any(self.errors) or not self.instance.pk:
            return
        stored = dict(Membership.objects.filter(project=self.instance).values_list("pk", "role"))
        leads_before = locked_leads(self.instance)  # held to the commit: the rows are saved as judged here
        final = dict(stored)
        for i, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", None) or {}
            if self.can_delete and self._should_delete_form(form):
                final.pop(form.instance.pk, None)
            elif data and (form.instance.pk is None or form.has_changed()):
                final[form.instance.pk or f"new {i}"] = data.get("role")
        if leads_before and Membership.LEAD not in final.values():
            raise ValidationError(KEEP_A_LEAD_REMOVE if len(final) < len(stored) else KEEP_A_LEAD_ROLE)

    def stale_problems(self) -> list[str]:
        gone = ["A membership shown on this page was removed by someone else since it loaded; nothing was saved. "
                "Reload the page to see the members as they are now."] if self.gone_rows() else []
        stale = [str(form.instance.user) for form in self.forms if getattr(form, "stale", None)]
        if stale:
            gone.append(f"Nothing was saved: someone else changed the role of {', '.join(stale)} since this page "
                        "loaded. Each row says what is stored now.")
        return gone

    def save(self, commit=True):
        """Through the services, leads first: every step keeps the lead the whole page was checked to keep."""
        project = self.instance
        stored = {m.pk: m for m in Membership.objects.filter(project=project).select_related("user", "project")}
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        deleted = [form for form in self.forms if self.can_delete and self._should_delete_form(form)]
        rows, gone = [], [stored[f.instance.pk] for f in deleted if f.instance.pk in stored]
        for form in self.forms:
            if form in deleted or not form.has_changed() or not getattr(form, "cleaned_data", None):
                continue
            old = stored.get(form.instance.pk)
            if old is not None and old.user_id != form.cleaned_data["user"].pk:
                gone.append(old)  # the row now names someone else: the first member leaves
            rows.append((form, old))
        for form, old in sorted(rows, key=lambda row: row[0].cleaned_data["role"] != Membership.LEAD):
            form.instance = set_member(project, form.cleaned_data["user"], form.cleaned_data["role"])
            if old is None:
                self.new_objects.append(form.instance)
            else:
                self.changed_objects.append((form.instance, form.changed_data))
        for membership in gone:
            remove_member(membership)
            self.deleted_objects.append(membership)
        return [form.instance for form, _ in rows]


class MembershipInline(admin.TabularInline):
    model = Membership
    form = GuardedRowForm
    formset = MembershipInlineFormSet
    extra = 0


class MembershipAdminForm(GuardedRowForm):
    def clean(self):
        data = super().clean()
        member = self.instance
        if member.pk and data.get("role") and data["role"] != Membership.LEAD and \
                locked_leads(member.project) == [member.user_id]:  # held to the commit
            self.add_error("role", KEEP_A_LEAD_ROLE)
        return data


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ["user", "project", "role"]
    list_filter = ["project", "role"]

    def get_readonly_fields(self, request, obj=None):
        # A membership is one person's in one project: another person or project is another membership.
        return ("user", "project") if obj else ()

    def save_model(self, request, obj, form, change):
        try:
            obj.pk = set_member(obj.project, obj.user, obj.role).pk
        except ValidationError as exc:  # the form's check ran under the same lock: not expected
            request.membership_refused = True
            self.message_user(request, " ".join(exc.messages), messages.ERROR)

    def response_change(self, request, obj):
        if getattr(request, "membership_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def get_deleted_objects(self, objs, request):
        """What stops the deletion: a project left without a lead (last_lead's check, judged under the
        leads' lock on a POST, held until the deletion is done: the delete view's transaction or
        response_action's)."""
        memberships = list(objs)
        prefetch_related_objects(memberships, "user", "project")  # the listing names each: not a query per row
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(memberships, request)
        leaving: dict[int, set[int]] = {}
        for membership in memberships:
            leaving.setdefault(membership.project_id, set()).add(membership.user_id)
        orphaned = projects_left_without_a_lead(leaving, lock=request.method == "POST")
        for project in Project.objects.filter(pk__in=orphaned).order_by("pk"):
            protected.append(f"{project.name} ({project.slug}): {KEEP_A_LEAD_REMOVE}")
        return deleted, model_count, perms_needed, protected

    def delete_model(self, request, obj):
        try:
            remove_member(obj)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("project", "user"):
            self.delete_model(request, membership)

    def response_delete(self, request, obj_display, obj_id):
        if Membership.objects.filter(pk=obj_id).exists():  # delete_model refused (its message says why)
            return HttpResponseRedirect(reverse("admin:projects_membership_change", args=[obj_id]))
        return super().response_delete(request, obj_display, obj_id)

    def response_action(self, request, queryset):
        with transaction.atomic():  # "delete selected": the leads' lock holds until the rows are deleted
            return super().response_action(request, queryset)

