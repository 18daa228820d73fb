from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

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
        errors = label_set_errors(final, deleted)
        if errors:
            raise ValidationError([message for messages in errors.values() for message in messages])


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
