"""The admin's users: Django's UserAdmin, whose deletion (a user's delete page, "delete selected")
refuses a user who is a project's only lead, on the confirmation page with nothing deleted, naming
the projects and what to do. Their memberships would go with them (CASCADE), past the members
paths' check (membership.remove_member), and leave the project without a lead. On a POST the
projects' leads are locked (last_lead.lock_leads, membership.locked_leads's lock) until the
deletion is done: the delete view's transaction, or response_action's."""
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction

from .last_lead import left_without_a_lead

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class LeadKeepingUserAdmin(UserAdmin):
    """Its confirmation pages (templates/admin/auth/user/) say "protected" is why the users stay,
    not rows that would have to go."""

    def get_deleted_objects(self, objs, request):
        users = list(objs)
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(users, request)
        protected = [*protected, *left_without_a_lead(users, lock=request.method == "POST")]
        return deleted, model_count, perms_needed, protected

    def response_action(self, request, queryset):
        with transaction.atomic():  # "delete selected": the leads' locks hold until the users are deleted
            return super().response_action(request, queryset)
