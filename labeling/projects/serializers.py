"""API shapes. Validation that spans rows lives in services.py and is shared with the pages."""
from django.contrib.auth import get_user_model
from rest_framework import serializers

from .models import Label, Membership, Project, Rule, Source
from .permissions import role_in
from .services import SETTINGS_FIELDS


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["slug", "created_at", "role", *SETTINGS_FIELDS]
        read_only_fields = ["slug", "created_at", "role"]

    def get_role(self, project) -> str | None:
        request = self.context.get("request")
        return role_in(request.user, project) if request else None


class ProjectCreateSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    labels = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)
    sources = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)


class LabelSerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(queryset=Label.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Label
        fields = ["id", "name", "description", "hotkey", "parent", "precision_target", "recall_target",
                  "is_other", "order"]

    def validate_parent(self, parent):
        project = self.context["project"]
        if parent is not None and parent.project_id != project.pk:
            raise serializers.ValidationError("The parent label belongs to another project.")
        return parent


class SourceSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(required=False, allow_null=True)

    class Meta:
        model = Source
        fields = ["id", "name", "quota"]
        # Uniqueness is checked across the whole list by services.replace_sources.
        validators = []


class RuleSerializer(serializers.ModelSerializer):
    label = serializers.PrimaryKeyRelatedField(queryset=Label.objects.all())
    label_name = serializers.CharField(source="label.name", read_only=True)

    class Meta:
        model = Rule
        fields = ["id", "label", "label_name", "kind", "pattern", "enabled"]

    def validate_label(self, label):
        if label.project_id != self.context["project"].pk:
            raise serializers.ValidationError("The label belongs to another project.")
        return label


class RulePreviewSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Rule.KINDS)
    pattern = serializers.CharField(max_length=500)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.SlugRelatedField(
        source="user", slug_field="username", queryset=get_user_model().objects.all())

    class Meta:
        model = Membership
        fields = ["id", "username", "role"]
        validators = []


class PredictSerializer(serializers.Serializer):
    texts = serializers.ListField(child=serializers.CharField(allow_blank=False, trim_whitespace=False),
                                  min_length=1, max_length=1000)
    queue_for_review = serializers.BooleanField(
        required=False, allow_null=True, default=None,
        help_text="Queue texts that need review for annotation; defaults to the project's setting.")
