"""Leases on wave items, the answers given, and the lead's adjudication queue."""
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from labeling.items.models import Item
from labeling.projects.models import Label, Project
from labeling.projects.setting_checks import related_project_errors


class Assignment(models.Model):
    """One annotator's lease on one wave item. Expired leases go back to the pool.

    An answered (done, skipped) assignment outlives its annotator's account with no annotator
    (``release.release_user_slots`` deletes the unanswered ones): its answers' wave, strategy and
    inclusion probability are read through it (the export, the dashboard, the answers API), and
    without it a re-drawn item's label was credited to its first pick."""

    LEASED = "leased"
    DONE = "done"
    SKIPPED = "skipped"
    EXPIRED = "expired"
    STATES = [(s, s) for s in (LEASED, DONE, SKIPPED, EXPIRED)]

    wave_item = models.ForeignKey("waves.WaveItem", on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assignments"
    )
    batch_key = models.UUIDField(default=uuid.uuid4, db_index=True)
    position = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=STATES, default=LEASED)
    leased_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["batch_key", "position"]
        indexes = [
            models.Index(fields=["state", "expires_at"]),
            # The annotator's live leases, and their leases ended lately (idle_leases), on every lease.
            models.Index(fields=["annotator", "state", "expires_at"], name="assignment_annotator_state_exp"),
        ]
        constraints = [
            # The database itself refuses a second live lease (or answer) of one wave item to the
            # same annotator, whatever races the application code loses.
            models.UniqueConstraint(
                fields=["wave_item", "annotator"], condition=models.Q(state__in=["leased", "done"]),
                name="assignment_one_live_per_annotator",
            ),
        ]


class Annotation(models.Model):
    ANNOTATOR = "annotator"
    IMPORT = "import"
    ADJUDICATION = "adjudication"
    ORIGINS = [(o, o) for o in (ANNOTATOR, IMPORT, ADJUDICATION)]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotations"
    )
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotations"
    )
    # The most specific label given; a fine label implies its parent (coarse) label.
    label = models.ForeignKey(Label, null=True, blank=True, on_delete=models.PROTECT, related_name="annotations")
    skipped = models.BooleanField(default=False)
    skip_reason = models.CharField(max_length=300, blank=True)
    origin = models.CharField(max_length=15, choices=ORIGINS, default=ANNOTATOR)
    # Client-generated id: a retried submit is stored exactly once.
    client_id = models.UUIDField(unique=True, default=uuid.uuid4)
    # undone: the answer no longer counts (undone, cleared, or changed: see supersedes).
    undone = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # A changed answer is a new row that points at the one it replaces; the old row stays (undone,
    # for the audit trail) and reads the new one as ``superseded_by``.
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="superseded_by"
    )
    # Whether the page showed the model's suggestion with the item, and which label it suggested.
    suggestion_shown = models.BooleanField(default=False)
    suggested_label = models.ForeignKey(
        Label, null=True, blank=True, on_delete=models.SET_NULL, related_name="suggested_in"
    )

    class Meta:
        indexes = [
            models.Index(fields=["project", "undone", "skipped"]),
            models.Index(fields=["item", "undone"]),
            # The annotator's answers after a moment (leasing.renewal_limit on every lease and
            # renewal, idle_leases): a range of one annotator's rows, not all their answers.
            models.Index(fields=["annotator", "created_at"], name="annotation_annotator_created"),
        ]

    def clean(self):
        # The export and agreement read a project's answers with that project's labels and items only.
        if errors := related_project_errors(self, "item", "label", "suggested_label"):
            raise ValidationError(errors)


class ReviewTask(models.Model):
    """An item a lead must adjudicate: annotators disagreed, a prediction was unsure, or a given
    label looks wrong to out-of-fold models (``label_issue``)."""

    DISAGREEMENT = "disagreement"
    LOW_CONFIDENCE = "low_confidence"
    LEAD_REQUEST = "lead_request"  # a lead sent the item from the item browser
    LABEL_ISSUE = "label_issue"  # a labeled item the out-of-fold models think mislabeled
    REASONS = [(r, r) for r in (DISAGREEMENT, LOW_CONFIDENCE, LEAD_REQUEST, LABEL_ISSUE)]
    # How a task left the queue (blank: still open).
    ACCEPTED = "accepted"  # the model's label (prediction, or suggested label) was stored
    RELABELED = "relabeled"  # a lead's own label was stored
    DISMISSED = "dismissed"  # closed without a label (the given label or the prediction stands)
    EXPIRED = "expired"  # closed when a newer model no longer found the item doubtful
    OUTCOMES = [(o, o) for o in (ACCEPTED, RELABELED, DISMISSED, EXPIRED)]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="review_tasks")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="review_tasks")
    reason = models.CharField(max_length=20, choices=REASONS)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_label = models.ForeignKey(Label, null=True, blank=True, on_delete=models.SET_NULL)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Number of the model version that opened the task or last re-scored it (model-made tasks only).
    model_version = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=OUTCOMES, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "reason"], condition=models.Q(resolved_at__isnull=True),
                name="reviewtask_one_open_per_reason",
            ),
        ]
