"""Waves: batches of items planned under source quotas, with why each item was picked."""
from django.db import models
from django.db.models import F, Q

from labeling.items.models import Item
from labeling.projects.models import Label, Project


class Wave(models.Model):
    PLANNED = "planned"
    OPEN = "open"
    CLOSED = "closed"
    # Planned but never opened, then dropped: closed by a lead before it opened, or planned with a
    # model that is no longer the active one when the loop opens the next wave (labeling.waves.discard).
    # Its picks are deleted (they were never asked: no estimate counts them); report["discarded"] says why.
    DISCARDED = "discarded"
    STATES = [(s, s) for s in (PLANNED, OPEN, CLOSED, DISCARDED)]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="waves")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=STATES, default=PLANNED)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    cold_start = models.BooleanField(default=False)
    model_version = models.ForeignKey(
        "learner.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="waves"
    )
    size = models.PositiveIntegerField(default=0)
    # Planner's report: requested vs achieved shares, redistributed quotas and why.
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["project", "number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="wave_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.project} wave {self.number}"


class WaveItem(models.Model):
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="picks")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="wave_picks")
    strategy = models.CharField(max_length=30)
    reason = models.CharField(max_length=300, blank=True)
    # P(in the wave's estimation sample) under the design that planned it (learner.planning.draws);
    # null for a ranked or fill pick, whose reason is in design["no_pi"].
    inclusion_prob = models.FloatField(null=True, blank=True)
    # {"pi": {draw: P(drawn by it)}, "drawn_by": [...]} for drawn picks, {"no_pi": why} otherwise.
    design = models.JSONField(default=dict, blank=True)
    predicted_label = models.ForeignKey(Label, null=True, blank=True, on_delete=models.SET_NULL)
    predicted_prob = models.FloatField(null=True, blank=True)
    likely_rare = models.BooleanField(default=False)
    overlap = models.PositiveSmallIntegerField(default=1, help_text="Annotators this item needs.")
    batch_number = models.PositiveIntegerField(default=0)
    position = models.PositiveIntegerField(default=0)
    # Denormalised slot counts, kept by labeling.annotations (leasing, services) under this row's
    # lock: assignments that hold a slot (leased until expired, done, skipped) and those answered
    # (done, skipped). Leasing finds free slots through the partial index below, not by counting.
    slots_taken = models.PositiveSmallIntegerField(default=0)
    slots_done = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["wave", "batch_number", "position"]
        constraints = [
            models.UniqueConstraint(fields=["wave", "item"], name="waveitem_unique"),
        ]
        indexes = [
            # Lease order over the picks with a free slot only: the lease query walks this index.
            models.Index(fields=["wave", "batch_number", "position", "id"], name="waveitem_free_slots",
                         condition=Q(slots_taken__lt=F("overlap"))),
        ]
