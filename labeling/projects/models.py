"""Projects and their configuration: labels (flat or coarse → fine), sources with quotas,
rules that hint at rare labels, and who works on what."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from learner.rules import compile_rule

SHARE = [MinValueValidator(0.0), MaxValueValidator(1.0)]


def default_strategy_mix() -> dict:
    # Shares of a wave per strategy once a model exists; the random slice is Project.random_share.
    return {"rare": 0.4, "uncertainty": 0.3, "diversity": 0.2}


class Project(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    guidelines = models.TextField(blank=True, help_text="Shown to annotators beside the labels.")
    created_at = models.DateTimeField(auto_now_add=True)

    wave_size = models.PositiveIntegerField(default=1000)
    batch_size = models.PositiveIntegerField(default=20)
    band_low = models.FloatField(default=0.30, validators=SHARE)
    band_high = models.FloatField(default=0.70, validators=SHARE)
    rare_threshold = models.PositiveIntegerField(
        default=500, help_text="Labels with fewer labeled examples than this count as rare."
    )
    random_share = models.FloatField(default=0.10, validators=SHARE)
    review_share_min = models.FloatField(default=0.05, validators=SHARE)
    review_share_max = models.FloatField(default=0.10, validators=SHARE)
    double_label_share = models.FloatField(default=0.10, validators=SHARE)
    overlap = models.PositiveSmallIntegerField(
        default=2, help_text="Annotators per double-labeled item."
    )
    strategy_mix = models.JSONField(default=default_strategy_mix, blank=True)
    label_cap_share = models.FloatField(
        default=0.25, validators=SHARE, help_text="At most this share of a wave per predicted label."
    )
    label_budget = models.PositiveIntegerField(null=True, blank=True)
    retrain_every = models.PositiveIntegerField(
        null=True, blank=True, help_text="Retrain after this many new labels (besides wave end)."
    )
    fine_floor = models.FloatField(default=0.75, validators=SHARE)
    near_dup_threshold = models.FloatField(default=0.8, validators=SHARE)
    max_text_chars = models.PositiveIntegerField(default=20000)
    allow_new_sources = models.BooleanField(default=False)
    allow_new_labels = models.BooleanField(default=False)
    queue_review_predictions = models.BooleanField(
        default=False, help_text="Predictions that need review are queued for annotation."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.band_low >= self.band_high:
            raise ValidationError({"band_high": "The band's upper bound must exceed its lower bound."})
        if self.review_share_min > self.review_share_max:
            raise ValidationError({"review_share_max": "Maximum review share is below the minimum."})


class Label(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    hotkey = models.CharField(max_length=1, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    precision_target = models.FloatField(null=True, blank=True, validators=SHARE)
    recall_target = models.FloatField(null=True, blank=True, validators=SHARE)
    is_other = models.BooleanField(default=False, help_text='The "none of these" / Other label.')
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="label_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.parent_id:
            if self.parent.project_id != self.project_id:
                raise ValidationError({"parent": "The parent label belongs to another project."})
            if self.parent.parent_id:
                raise ValidationError({"parent": "Taxonomies have two levels: coarse and fine."})


class Source(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=200)
    quota = models.FloatField(default=0.0, validators=SHARE, help_text="Share of each wave.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="source_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Rule(models.Model):
    KEYWORD = "keyword"
    REGEX = "regex"
    KINDS = [(KEYWORD, "keyword"), (REGEX, "regular expression")]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rules")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(max_length=10, choices=KINDS, default=KEYWORD)
    pattern = models.CharField(max_length=500)
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.kind}:{self.pattern} → {self.label}"

    def clean(self):
        try:
            compile_rule(self.kind, self.pattern)
        except ValueError as exc:
            raise ValidationError({"pattern": str(exc)}) from exc


class Membership(models.Model):
    LEAD = "lead"
    ANNOTATOR = "annotator"
    ROLES = [(LEAD, "lead"), (ANNOTATOR, "annotator")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=ROLES, default=ANNOTATOR)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.project} · {self.role}"
