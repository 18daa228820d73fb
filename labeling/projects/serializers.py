"""API shapes. Validation that spans rows lives in services.py and is shared with the pages; the
settings' own checks are the model's (models.settings_errors), shared with the settings page."""
from collections.abc import Mapping
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from learner.rules import compile_rule

from .hotkeys import OTHER_STAYS_TOP, hotkey_error, moves_the_other_label, normalized_hotkey
from .models import Label, Membership, Project, Rule, Source, settings_errors
from .overlap import MAX_OVERLAP, OVERLAP_WHY
from .permissions import role_in
from .services import SETTINGS_FIELDS, check_strategy_mix


class NumberField(serializers.FloatField):
    """A float field that refuses true and false: DRF's FloatField takes float(True), so a ticked box
    sent by mistake was stored as 1.0 (a label's precision target, a source's whole quota)."""

    default_error_messages = {"boolean": "Give a number, not true or false."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("boolean")
        return super().to_internal_value(data)


class RefuseUnknownFields:
    """Serializer mixin: a write naming a field the serializer does not take (unknown, or read-only
    like a project's slug) answers 400 naming it. DRF drops such keys, so PATCH {"slug": "renamed"}
    or a misspelt setting answered 200 with nothing changed, and the client believed it saved."""

    # Sent by the browsable API's HTML forms with every write, and checked by the CSRF middleware.
    NOT_FIELDS = frozenset({"csrfmiddlewaretoken"})

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = [name for name, field in self.fields.items() if not field.read_only]
            errors = {}
            for key in data:
                if key in self.NOT_FIELDS:
                    continue
                field = self.fields.get(key)
                if field is None:
                    errors[key] = [f"Unknown field “{key}”; this request takes: {', '.join(writable)}."]
                elif field.read_only:
                    errors[key] = [f"“{key}” is read-only: it cannot be set or changed here."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class StrictModelSerializer(RefuseUnknownFields, serializers.ModelSerializer):
    """Model float fields come out as NumberField; unknown and read-only fields in a write are refused."""

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping, models.FloatField: NumberField}


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_OVERLAP})
class OverlapField(serializers.IntegerField):
    """The overlap with no bounds of its own: ProjectSerializer.validate checks its range with the
    settings page's words (settings_errors); the column's own bound (32767) would answer first
    with DRF's words and no reason."""


class ProjectSerializer(StrictModelSerializer):
    role = serializers.SerializerMethodField()
    overlap = OverlapField(required=False, help_text=f"Annotators per double-labeled item, 1 to {MAX_OVERLAP}. "
                                                     + OVERLAP_WHY)

    class Meta:
        model = Project
        fields = ["slug", "created_at", "role", *SETTINGS_FIELDS]
        read_only_fields = ["slug", "created_at", "role"]

    def get_role(self, project) -> str | None:
        request = self.context.get("request")
        return role_in(request.user, project) if request else None

    def validate(self, attrs):
        """The settings as they would be after this change (a PATCH merged with the stored
        project), checked as the settings page checks them: 400 with a message per field."""
        attrs = super().validate(attrs)
        # A new project's settings are checked against the defaults it starts with.
        stored = {f: getattr(self.instance or Project(), f) for f in SETTINGS_FIELDS}
        merged = SimpleNamespace(**{**stored, **attrs})
        errors = settings_errors(merged)
        if getattr(merged, "random_share", None) is not None and "random_share" not in errors:
            try:
                check_strategy_mix(getattr(merged, "strategy_mix", None) or {}, merged.random_share)
            except DjangoValidationError as exc:
                errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
        if errors:
            raise serializers.ValidationError({field: [message] for field, message in errors.items()})
        return attrs


class ProjectCreateSerializer(ProjectSerializer):
    """A new project: its slug, labels and sources, and any settings, checked as a PATCH checks them
    (against the defaults) and applied; one that is not valid refuses the whole creation."""

    slug = serializers.SlugField()
    role = None  # the creator becomes its lead; the reply (ProjectSerializer) says so
    labels = serializers.ListField(
        child=serializers.CharField(max_length=401), required=False, default=list,
        help_text="Label names; “billing > refund” makes refund a fine label under billing. Hotkeys 1-9, "
                  "then letters other than the review queue's j k x a d r, go to the top-level labels first, "
                  "then to the fine labels, each in this order, while keys are left.")
    sources = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)
    other_label = serializers.BooleanField(
        required=False, default=False,
        help_text="Add an Other label (hotkey 0) for items no label fits; a label named Other is marked as it.")

    class Meta(ProjectSerializer.Meta):
        fields = ["slug", *SETTINGS_FIELDS, "labels", "sources", "other_label"]
        read_only_fields: list[str] = []
        extra_kwargs = {"name": {"required": True}}


class LabelSerializer(StrictModelSerializer):
    # Longer than one character here so that a reserved key sent by name ("Backspace") gets the
    # message naming it; validate() refuses anything but one free key.
    hotkey = serializers.CharField(required=False, allow_blank=True, max_length=20, trim_whitespace=False,
                                   help_text="One key; the annotation page's own keys (/ . ? 0 = [ ] Space "
                                             "Enter Esc Backspace Delete …) are refused, 0 except for the Other label, "
                                             "and so are the review queue's j k x a d r unless the label holds it.")
    parent = serializers.PrimaryKeyRelatedField(queryset=Label.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Label
        fields = ["id", "name", "description", "hotkey", "parent", "precision_target", "recall_target",
                  "is_other", "order"]

    def validate_hotkey(self, hotkey):
        # Judged and stored as the key types it (NFC): a decomposed "e" + U+0301 is the key "é".
        return normalized_hotkey(hotkey)

    def validate(self, attrs):
        # The same check as Label.clean (the labels page); a PATCH is checked merged with the label.
        stored = self.instance
        hotkey = attrs.get("hotkey", stored.hotkey if stored else "")
        is_other = attrs.get("is_other", stored.is_other if stored else False)
        parent = attrs["parent"] if "parent" in attrs else (stored.parent if stored else None)
        # Before the key: moving the Other label is refused for where it goes, not for the key 0 it holds.
        if moves_the_other_label(bool(stored and stored.is_other and stored.parent_id is None), is_other, parent):
            raise serializers.ValidationError({"parent": OTHER_STAYS_TOP})
        reserved = hotkey_error(hotkey or "", is_other=is_other, parent_id=parent.pk if parent else None,
                                stored=stored.hotkey if stored else "")
        if reserved:
            raise serializers.ValidationError({"hotkey": reserved})
        return attrs

    def validate_parent(self, parent):
        project = self.context["project"]
        if parent is not None and parent.project_id != project.pk:
            raise serializers.ValidationError("The parent label belongs to another project.")
        return parent


class SourceSerializer(StrictModelSerializer):
    id = serializers.IntegerField(required=False, allow_null=True)

    class Meta:
        model = Source
        fields = ["id", "name", "quota"]
        # Uniqueness is checked across the whole list by services.replace_sources.
        validators = []
        # The list replaces the project's sources, quotas included: the model's default must not fill in.
        extra_kwargs = {"quota": {"required": True}}


class RuleSerializer(RefuseUnknownFields, serializers.ModelSerializer):
    label = serializers.PrimaryKeyRelatedField(queryset=Label.objects.all())
    label_name = serializers.CharField(source="label.name", read_only=True)

    class Meta:
        model = Rule
        fields = ["id", "label", "label_name", "kind", "pattern", "enabled"]
        # A regex's leading and trailing spaces are part of it (" id " is not "id"); Rule.clean
        # trims a keyword's.
        extra_kwargs = {"pattern": {"trim_whitespace": False}}
        # The rule_unique constraint's refusal comes from the service, on `pattern`, naming the rule
        # the label has already (DRF's own check would answer a bare non_field_errors).
        validators = []

    def validate_label(self, label):
        if label.project_id != self.context["project"].pk:
            raise serializers.ValidationError("The label belongs to another project.")
        return label


class RulePreviewSerializer(RefuseUnknownFields, serializers.Serializer):
    kind = serializers.ChoiceField(choices=Rule.KINDS)
    pattern = serializers.CharField(max_length=500, trim_whitespace=False)

    def validate(self, attrs):
        # The check saving makes (Rule.clean): a pattern too large to save is not previewed either.
        try:
            compile_rule(attrs["kind"], attrs["pattern"], max_program_size=settings.LONGTAIL_RULE_MAX_PROGRAM_SIZE)
        except ValueError as exc:
            raise serializers.ValidationError({"pattern": [f"Pattern “{attrs['pattern']}”: {exc}."]}) from exc
        return attrs


class MembershipSerializer(RefuseUnknownFields, serializers.ModelSerializer):
    username = serializers.SlugRelatedField(
        source="user", slug_field="username", queryset=get_user_model().objects.all())

    class Meta:
        model = Membership
        fields = ["id", "username", "role"]
        validators = []
        # The model's default (annotator) must not stand in for a role the caller forgot to give.
        extra_kwargs = {"role": {"required": True}}

    def validate_username(self, user):
        # A membership is one user's place in the project: changing its user would silently move a
        # role to someone else (the API ignored it before), so it is refused; PUT may repeat it.
        if self.instance is not None and user.pk != self.instance.user_id:
            raise serializers.ValidationError(
                f"A member's user cannot be changed (this membership is {self.instance.user.username}'s); "
                "add the other user as a member and remove this one instead.")
        return user


class PredictSerializer(RefuseUnknownFields, serializers.Serializer):
    texts = serializers.ListField(
        child=serializers.CharField(allow_blank=False, trim_whitespace=False), min_length=1, max_length=1000,
        help_text="Up to 1,000 texts, each within the project's max_text_chars, together at most "
                  "LONGTAIL_PREDICT_MAX_CHARS characters (200,000 unless the server sets it).")
    queue_for_review = serializers.BooleanField(
        required=False, allow_null=True, default=None,
        help_text="Queue texts that need review for annotation; defaults to the project's setting.")

    def validate_texts(self, texts):
        # Each text is encoded in the request's own web thread: the total bounds one call's work.
        total, limit = sum(len(text) for text in texts), settings.LONGTAIL_PREDICT_MAX_CHARS
        if total > limit:
            raise serializers.ValidationError(
                f"The texts have {total:,} characters in all; one request may send at most {limit:,}. "
                "Send them in smaller batches.")
        return texts
