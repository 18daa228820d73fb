"""Items to label and the imports that brought them."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from labeling.projects.models import Project, Source
from learner.planning.quotas import QUOTA_TOLERANCE

from .dedup import BANDS
from .json_object import JsonIsObject, metadata_problem


class ImportBatch(models.Model):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STATES = [(s, s) for s in (PENDING, RUNNING, DONE, FAILED)]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="imports")
    filename = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=STATES, default=PENDING)
    progress = models.FloatField(default=0.0)
    # The import's heartbeat: moved with every progress report and by a thread while it runs. A
    # running import whose heartbeat is older than LONGTAIL_TASK_STALE_SECONDS lost its worker.
    updated_at = models.DateTimeField(default=timezone.now)
    rows_total = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    exact_duplicates = models.PositiveIntegerField(default=0)
    near_duplicates = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    # While the import waits for another import into the same project to end (imports of one
    # project run one after the other): which one, in words; empty otherwise. A database default
    # too, so that processes still on the previous release can insert rows during an upgrade.
    waiting = models.CharField(max_length=500, blank=True, default="", db_default="")
    # The names of the sources the file brought that the project did not have (created with quota 0,
    # so never drawn while the quotas add up to 1): a misspelt channel must not park its rows unseen.
    created_sources = models.JSONField(default=list, blank=True, db_default=[])
    # What the import did besides making items (rows_imported counts only those), so that a file of
    # labels for items the project held does not read "imported 0 of N rows" and nothing else: labels
    # brought to items the project held (labeling.items.existing), labels an export had copied from a
    # labeled twin that were left out (export_files.COPIED_LABEL_SOURCES), and of those rows the ones
    # not imported at all as the project held their item. Zero on a failed import, which wrote nothing.
    labels_attached = models.PositiveIntegerField(default=0, db_default=0)
    copied_labels_left_out = models.PositiveIntegerField(default=0, db_default=0)
    rows_left_out = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.state})"

    @property
    def note(self) -> str:
        """What the import's page, the API and import_items say beside its items made ("" when nothing)."""
        return summary_note(self.labels_attached, self.copied_labels_left_out, self.rows_left_out)

    @property
    def created_sources_note(self) -> str:
        """What the import's page, the API and import_items say about the sources it created: whether
        their items are drawn follows the project's quotas as they are now (learner.planning.quotas
        ``source_weights``): a quota-0 source is never drawn only beside quotas that add up to 1."""
        if not self.created_sources:
            return ""
        names = ", ".join(f"“{name}”" for name in self.created_sources)
        which = "source" if len(self.created_sources) == 1 else "sources"
        total = sum(q for q in self.project.sources.values_list("quota", flat=True) if q > 0)
        if total >= 1.0 - QUOTA_TOLERANCE:
            drawn = ("the project's quotas add up to 1, and a source with quota 0 beside them is not drawn into any "
                     "wave: give these a quota on the sources page (or move their items to another source).")
        elif total <= 0:
            drawn = ("no source of the project has a quota, so waves draw from every source, these included; once "
                     "the quotas add up to 1, a source with quota 0 is no longer drawn.")
        else:
            drawn = (f"the project's quotas add up to {total:.2f}, so the sources with quota 0, these among them, share "
                     f"the other {1 - total:.2f} of each wave; once the quotas add up to 1, a source with quota 0 is "
                     "no longer drawn.")
        return f"This file created the {which} {names} with quota 0: {drawn} A misspelt channel name shows here."


def summary_note(labels_attached: int, copied_labels_left_out: int, rows_left_out: int) -> str:
    """An import's summary beside its items made: labels brought to items the project held, and labels
    an export had copied from a labeled twin that were left out (``export_files.COPIED_LABEL_SOURCES``)."""
    said = []
    if labels_attached:
        said.append(f"{_count(labels_attached, 'label')} brought to items the project already held (no item made "
                    "for those rows).")
    if copied_labels_left_out:
        rows = (f"; {_count(rows_left_out, 'row')} of them not imported at all, as the project holds the item "
                "already" if rows_left_out else "")
        said.append(f"{_count(copied_labels_left_out, 'label')} left out: the export copied them onto unlabeled "
                    "exact duplicates from a labeled twin (label_source “duplicate”), nobody gave them, so their rows "
                    f"were imported unlabeled{rows}.")
    return " ".join(said)


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}" if n == 1 else f"{n:,} {what}s"


class Item(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT, related_name="items")
    external_id = models.CharField(max_length=200, null=True, blank=True)
    text = models.TextField()
    # sha256 of the normalized text (see learner.text): exact duplicates share it.
    text_hash = models.CharField(max_length=64, db_index=True)
    # Near-duplicate group: the id of the group's first item (an item alone is its own group).
    dup_group = models.BigIntegerField(null=True, blank=True, db_index=True)
    # Always a JSON object (the CHECK constraint below): its keys are the export's meta.<key> columns.
    metadata = models.JSONField(default=dict, blank=True)
    import_batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by a lead in the item browser: an excluded item is never planned into a wave.
    excluded = models.BooleanField(default=False)
    # Set by a lead in the item browser: the next wave should take this item (see docs/loop.md).
    pinned_for_next_wave = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"], name="item_unique_external_id",
                condition=models.Q(external_id__isnull=False),
            ),
            # Older versions stored lists, texts and numbers too, which the CSV export could not
            # write as columns (lost on a round trip); migration 0008 rewrote them as objects.
            models.CheckConstraint(
                condition=JsonIsObject("metadata"), name="item_metadata_is_object",
                violation_error_message="An item's metadata must be a JSON object of named fields.",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "dup_group"]),
            # The item browser's default order within one project (newest first): a filtered page
            # walks this index and stops after its rows (labeling/items/narrowing.py).
            models.Index(fields=["project", "id"], name="item_project_order"),
        ]

    def __str__(self) -> str:
        return self.text[:60]

    def clean(self):
        self._check_metadata()

    def _check_metadata(self):
        problem = metadata_problem(self.metadata)
        if problem:
            raise ValidationError({"metadata": problem}, code="not_an_object")

    def save(self, *args, **kwargs):
        """No metadata is {} (a cleared field), never JSON null; anything else that is not an object is
        refused here, naming the field, before the database's constraint would refuse it."""
        if self.metadata is None:
            self.metadata = {}
        self._check_metadata()
        super().save(*args, **kwargs)


def _band_fields():
    return {f"b{i}": models.BigIntegerField(db_index=True) for i in range(BANDS)}


class ItemLsh(models.Model):
    """The LSH band keys of an item's MinHash signature (see labeling.items.dedup), so that later
    imports find near-duplicates among earlier items with indexed lookups. Only the first item of
    each exact text (text_hash) gets a row: its exact duplicates are found by text_hash.
    One wide row per item (a column per band) costs far less to insert than a row per band."""

    item = models.OneToOneField(Item, primary_key=True, on_delete=models.CASCADE, related_name="lsh")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)

    locals().update(_band_fields())

    def __str__(self) -> str:
        return f"LSH keys of item {self.item_id}"
