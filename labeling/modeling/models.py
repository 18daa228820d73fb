"""Django-side records of the learner: model versions, cached embeddings, pool scores and
task progress. The learning itself lives in the Django-free core modules."""
from django.db import models
from django.utils import timezone

from labeling.items.models import Item
from labeling.projects.models import Project


class ModelVersion(models.Model):
    TRAINING = "training"
    READY = "ready"
    ACTIVE = "active"
    FAILED = "failed"
    RETIRED = "retired"
    STATES = [(s, s) for s in (TRAINING, READY, ACTIVE, FAILED, RETIRED)]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=STATES, default=TRAINING)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    temperature = models.FloatField(null=True, blank=True)
    thresholds = models.JSONField(default=dict, blank=True)
    class_weights = models.JSONField(default=dict, blank=True)
    label_map = models.JSONField(default=list, blank=True)
    # Trained label name → the id of the project label it was when the version trained, for every
    # name the version knows (its classes, label_map, and their coarse parents). The classifier,
    # thresholds and metrics name classes as trained; these ids keep each class tied to its label
    # through renames (selectors.model_labels). Empty for a version made outside training.
    label_ids = models.JSONField(default=dict, blank=True)
    train_size = models.PositiveIntegerField(default=0)
    artifact = models.BinaryField(null=True, blank=True)
    artifact_path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    # When retention pruned the version (labeling.modeling.retention): its scores, head and files
    # are gone, its row and metrics stay for the learning curve. NULL by database default too, so
    # the previous release's processes still insert during an upgrade.
    pruned_at = models.DateTimeField(null=True, blank=True, db_default=None)

    class Meta:
        ordering = ["project", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="modelversion_unique_number"),
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(state="active"), name="one_active_model_per_project"
            ),
            # At most one training per project, across every worker on every machine.
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(state="training"), name="one_training_model_per_project"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} model v{self.number} ({self.state})"


class Embedding(models.Model):
    """Cache: a text is embedded once per encoder, keyed by its normalized-text hash."""

    model_id = models.CharField(max_length=200)
    text_hash = models.CharField(max_length=64)
    vector = models.BinaryField()  # float32, L2-normalized

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model_id", "text_hash"], name="embedding_unique"),
        ]


class EmbeddingUse(models.Model):
    """A project's use of a query text's vector (its label texts, the texts sent to its predict
    API), under the key it has in the embeddings table. That table has no owner; its items' rows
    are known from the items, but these texts are not kept anywhere else (a label's earlier
    description, a predict request), so ``delete_project`` reads here which rows were its own."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    text_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "text_hash"], name="embedding_use_unique"),
        ]
        indexes = [models.Index(fields=["text_hash"], name="embedding_use_text_hash")]


class ItemScore(models.Model):
    # Derived, recomputable rows written 100k at a time: no database-level foreign keys (their
    # per-row checks doubled the COPY time); Django's on_delete still cascades deletions.
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="scores", db_constraint=False)
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="scores", db_constraint=False
    )
    probs = models.BinaryField()  # calibrated probabilities, float16, in label_map order
    top_label = models.PositiveIntegerField()
    top_prob = models.FloatField()
    margin = models.FloatField()
    entropy = models.FloatField()
    # True where a coarse → fine model emits the coarse label (P(fine | coarse) below its floor):
    # top_label is then the rejected fine candidate. False where it emits top_label. NULL: scored
    # before this column (or by a previous release during an upgrade: hence the database default);
    # migration 0009_itemscore_fallback_fill filled those it could decode; readers take a NULL left
    # as False (labeling.modeling.decoding).
    fallback = models.BooleanField(null=True, blank=True, db_default=None)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model_version", "item"], name="itemscore_unique"),
        ]
        indexes = [
            models.Index(fields=["model_version", "top_prob"]),
            # The browser's "predicted label" filter: one label's items of a version, in item order.
            models.Index(fields=["model_version", "top_label", "item"], name="itemscore_label_item"),
        ]


class TaskRun(models.Model):
    """Progress of background work (import, embed, train, score, plan) for pages and the API."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STATES = [(s, s) for s in (PENDING, RUNNING, DONE, FAILED)]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="task_runs")
    kind = models.CharField(max_length=20)
    celery_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=10, choices=STATES, default=PENDING)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Heartbeat: a pending/running run whose updated_at is old was interrupted (see labeling.loop.runs).
    updated_at = models.DateTimeField(default=timezone.now)
    # Stage, trigger reason, model version / wave ids, error text: whatever the pages want to show.
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One retrain pipeline (train → score → plan) in flight per project: a DB-level guard.
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(kind="retrain", state__in=["pending", "running"]),
                name="one_open_retrain_per_project",
            ),
        ]
