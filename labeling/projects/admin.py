from django.contrib import admin

from .models import Label, Membership, Project, Rule, Source


class LabelInline(admin.TabularInline):
    model = Label
    fk_name = "project"
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
