"""Shapes of the annotation API (input validation and drf-spectacular schema)."""
from django.db.models import Q
from rest_framework import serializers

from labeling.items.validation import has_visible_text
from labeling.projects.serializers import RefuseUnknownFields

from .answer_states import is_cleared
from .models import Annotation, ReviewTask

LABELS_VERSION_HELP = ("The labels_version of the labels the client shows; when they are no longer the "
                       "project's, the reply carries the current ones (labels, labels_version).")


def labels_version_field():
    return serializers.CharField(required=False, allow_blank=True, max_length=64, help_text=LABELS_VERSION_HELP)


class LeaseRequestSerializer(RefuseUnknownFields, serializers.Serializer):
    # No fixed maximum: the view refuses a size over the project's batch size (400 naming "size"),
    # the one limit the help states; the batch size itself is at most the wave size.
    size = serializers.IntegerField(
        required=False, min_value=1,
        help_text="Items to lease, at most the project's batch size (400 beyond it); default: the batch size."
    )
    labels_version = labels_version_field()


class RenewRequestSerializer(RefuseUnknownFields, serializers.Serializer):
    labels_version = labels_version_field()
    assignments = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, max_length=1000,
        help_text="The assignments the client still offers (its unanswered items); the reply says of each "
                  "whether it is held or lost. Left out: every live lease is extended and none reported lost.")
    extend = serializers.BooleanField(
        required=False, default=True,
        help_text="False: extend nothing, only say how the leases stand (the page's check-in while "
                  "nobody works in it).")


class PageLabelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    hotkey = serializers.CharField(allow_blank=True)
    parent = serializers.IntegerField(allow_null=True)
    is_other = serializers.BooleanField()
    full_name = serializers.CharField()


CURRENT_LABELS_HELP = "Only when the request's labels_version is out of date: the project's labels now."


class WhyPickedSerializer(serializers.Serializer):
    strategy = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    inclusion_prob = serializers.FloatField(allow_null=True, help_text="null for a ranked pick (not a probability draw)")
    likely_rare = serializers.BooleanField()
    overlap = serializers.IntegerField()
    predicted_label = serializers.CharField(allow_null=True)
    predicted_prob = serializers.FloatField(allow_null=True)


class LeasedItemSerializer(serializers.Serializer):
    assignment = serializers.IntegerField()
    item = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    text = serializers.CharField()
    source = serializers.CharField(allow_null=True)
    wave = serializers.IntegerField()
    batch_number = serializers.IntegerField()
    position = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    why = WhyPickedSerializer(required=False, help_text="Leads and admins only: why the planner picked it.")


class WaveProgressSerializer(serializers.Serializer):
    waves = serializers.ListField(child=serializers.IntegerField())
    needed = serializers.IntegerField()
    done = serializers.IntegerField()
    leased = serializers.IntegerField()


class WaitingSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text=(
        "no_wave, wave_complete, second_annotator, leased_by_others or let_go_idle (your batch was let go "
        "idle at its renewal limit: its items are not yours again until back_at)."))
    message = serializers.CharField()
    waiting_for_others = serializers.IntegerField(help_text="Items you answered that need another annotator.")
    leased_by_others = serializers.IntegerField(help_text="Items other annotators hold now.")
    back_at = serializers.DateTimeField(allow_null=True, help_text="When the first of those leases runs out.")
    overlap = serializers.IntegerField(help_text="Different annotators the waiting items need.")


class BatchSerializer(serializers.Serializer):
    resumed = serializers.BooleanField(help_text="True when the annotator's unexpired lease was handed back.")
    items = LeasedItemSerializer(many=True)
    progress = WaveProgressSerializer(allow_null=True)
    message = serializers.CharField(allow_blank=True)
    waiting = WaitingSerializer(allow_null=True, help_text="Why no item came back (null when some did).")
    labels = PageLabelSerializer(many=True, required=False, help_text=CURRENT_LABELS_HELP)
    labels_version = serializers.CharField(required=False, help_text="With labels: their version.")


class HeldLeaseSerializer(serializers.Serializer):
    assignment = serializers.IntegerField()
    item = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class LostLeaseSerializer(serializers.Serializer):
    assignment = serializers.IntegerField()
    item = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(help_text="taken, answered, wave_closed, decided, idle or gone (renewal.LOST_REASONS).")
    message = serializers.CharField(help_text="What the reason means, in a sentence.")


class RenewedSerializer(serializers.Serializer):
    renewed = serializers.IntegerField(help_text="Leases extended (or taken again after they ran out).")
    held = HeldLeaseSerializer(many=True, help_text="Leases still yours, with their expiry now.")
    lapsed = HeldLeaseSerializer(many=True, help_text=(
        "Leases that ran out but whose item is still free, so an answer on them is stored: with extend false "
        "(a renewal takes them again), or of a wave closed over a lease period ago (no renewal takes them "
        "again: closing says its leased items come back within one lease period)."))
    lost = LostLeaseSerializer(many=True, help_text="Named assignments you can no longer answer, and why.")
    lease_seconds = serializers.IntegerField()
    labels = PageLabelSerializer(many=True, required=False, help_text=CURRENT_LABELS_HELP)
    labels_version = serializers.CharField(required=False, help_text="With labels: their version.")


SKIP_REASON_INVISIBLE = ("Say why you skip this item (skip_reason): the reason holds only whitespace and "
                         "invisible characters (zero-width spaces and the like).")


class AnswerSerializer(RefuseUnknownFields, serializers.Serializer):
    client_id = serializers.UUIDField(help_text="Generated by the client; a retry with the same id is stored once.")
    assignment = serializers.IntegerField(required=False, allow_null=True)
    item = serializers.IntegerField(required=False, allow_null=True, help_text="Instead of assignment.")
    label = serializers.IntegerField(required=False, allow_null=True)
    skipped = serializers.BooleanField(required=False, default=False)
    skip_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    none_of_these = serializers.BooleanField(required=False, default=False)
    suggestion_shown = serializers.BooleanField(
        required=False, default=False, help_text="The page showed the model's suggestion with the item.")
    suggested_label = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1, help_text="The label suggested.")
    label_name = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False, max_length=200,
        help_text="The label's name as the client showed it; when the label is named otherwise now (a lead "
                  "renamed it), 409 and nothing is stored. Without it, the label id alone decides.")
    labels_version = labels_version_field()

    def validate(self, attrs):
        if attrs.get("assignment") is None and attrs.get("item") is None:
            raise serializers.ValidationError({"assignment": "Give 'assignment' or 'item'."})
        if attrs.get("skipped") and attrs.get("skip_reason") and not has_visible_text(attrs["skip_reason"]):
            # The importer's rule for texts: a reason of zero-width spaces and the like says nothing,
            # as one of plain spaces does (refused by the answer path once stripped).
            raise serializers.ValidationError({"skip_reason": SKIP_REASON_INVISIBLE})
        return attrs


def _replaced(annotation: Annotation) -> bool:
    """A newer answer names it in ``supersedes`` (an annotator's change). Only undone rows can be:
    a change undoes the answer it replaces, so a live one costs no query."""
    return annotation.undone and Annotation.objects.filter(supersedes_id=annotation.pk).exists()


def _outranked(annotation: Annotation) -> bool:
    """A live answer that a later live answer on its item replaces: the same annotator's of the same
    origin, or an adjudication (labeling.items.story, which the answers list reads)."""
    later = Q(created_at__gt=annotation.created_at) | Q(created_at=annotation.created_at, pk__gt=annotation.pk)
    replacing = Q(origin=Annotation.ADJUDICATION)
    if annotation.annotator_id is not None:
        replacing |= Q(annotator_id=annotation.annotator_id, origin=annotation.origin)
    return Annotation.objects.filter(later, replacing, item_id=annotation.item_id, undone=False).exists()


class AnnotationSerializer(serializers.Serializer):
    """One stored answer. Declared field by field rather than as a ModelSerializer: it answers
    every submit, and building a ModelSerializer's fields costs more than the rest of the reply."""

    id = serializers.IntegerField(read_only=True)
    client_id = serializers.UUIDField(read_only=True)
    item = serializers.IntegerField(source="item_id", read_only=True)
    assignment = serializers.IntegerField(source="assignment_id", allow_null=True, read_only=True)
    label = serializers.IntegerField(source="label_id", allow_null=True, read_only=True)
    label_name = serializers.CharField(source="label.name", default=None, read_only=True)
    skipped = serializers.BooleanField(read_only=True)
    skip_reason = serializers.CharField(read_only=True)
    origin = serializers.ChoiceField(choices=Annotation.ORIGINS, read_only=True)
    undone = serializers.SerializerMethodField(
        help_text="Cleared: taken back with no newer answer replacing it. A changed answer is not undone: it "
                  "shows superseded (as the answers list and the item's story read it).")
    superseded = serializers.SerializerMethodField(
        help_text="A later answer by the same annotator (a change), or a later adjudication, replaces it.")
    created_at = serializers.DateTimeField(read_only=True)
    supersedes = serializers.IntegerField(source="supersedes_id", allow_null=True, read_only=True)
    suggestion_shown = serializers.BooleanField(read_only=True)
    suggested_label = serializers.IntegerField(source="suggested_label_id", allow_null=True, read_only=True)

    def get_undone(self, annotation) -> bool:
        return is_cleared(annotation.undone, annotation.pk, {annotation.pk} if self._replaced(annotation) else ())

    def get_superseded(self, annotation) -> bool:
        return self._replaced(annotation) or not annotation.undone and _outranked(annotation)

    def _replaced(self, annotation) -> bool:
        memo = self.__dict__.setdefault("_replaced_memo", {})  # both flags read it: one query
        if annotation.pk not in memo:
            memo[annotation.pk] = _replaced(annotation)
        return memo[annotation.pk]


class UndoSerializer(RefuseUnknownFields, serializers.Serializer):
    client_id = serializers.UUIDField(
        required=False, allow_null=True,
        help_text="The answer to undo (its client_id). Without it, your latest stored answer; with it, exactly "
                  "that answer, and 409 while it is not stored yet (its submit still on the way).")


class AnswerResultSerializer(serializers.Serializer):
    annotation = AnnotationSerializer()
    created = serializers.BooleanField(help_text="False when this was a retry of an answer already stored.")
    review_task = serializers.IntegerField(allow_null=True, help_text="Disagreement task opened or refreshed.")
    labels = PageLabelSerializer(many=True, required=False, help_text=CURRENT_LABELS_HELP)
    labels_version = serializers.CharField(required=False, help_text="With labels: their version.")


class LabelAgreementSerializer(serializers.Serializer):
    label_id = serializers.IntegerField()
    label = serializers.CharField()
    kappa = serializers.FloatField(allow_null=True, help_text=(
        "One-vs-rest κ (a coarse label's reads a fine answer under it as the coarse label); None below 5 pairs "
        "with the label, or undefined."))
    answers = serializers.IntegerField(help_text=(
        "Answers on double-labeled items that chose the label, each once (a coarse label's include the fine "
        "answers under it)."))
    pairs = serializers.IntegerField(help_text=(
        "Pairs in which either annotator chose the label (a coarse label: it or a fine label under it)."))
    reason = serializers.CharField(allow_null=True, help_text="Why kappa is None.")


class AgreementSerializer(serializers.Serializer):
    items_double_labeled = serializers.IntegerField()
    pairs = serializers.IntegerField()
    kappa = serializers.FloatField(allow_null=True, help_text=(
        "Cohen's κ over the pairs, the annotator with the lower id as the first rater; None below 5 pairs, "
        "or undefined."))
    kappa_reason = serializers.CharField(allow_null=True, help_text="Why kappa is None.")
    raw_agreement = serializers.FloatField(allow_null=True, help_text="Share of pairs that agree; None below 5 pairs.")
    raw_agreement_reason = serializers.CharField(allow_null=True, help_text="Why raw_agreement is None.")
    kappa_coarse = serializers.FloatField(allow_null=True)
    kappa_coarse_reason = serializers.CharField(allow_null=True, help_text="Why kappa_coarse is None.")
    raw_agreement_coarse = serializers.FloatField(allow_null=True, help_text="None below 5 pairs, or one level.")
    raw_agreement_coarse_reason = serializers.CharField(allow_null=True, help_text="Why raw_agreement_coarse is None.")
    per_label = LabelAgreementSerializer(many=True)


class ReviewAnswerSerializer(serializers.ModelSerializer):
    annotator = serializers.CharField(source="annotator.username", default=None)
    label_name = serializers.CharField(source="label.name", default=None)

    class Meta:
        model = Annotation
        fields = ["id", "annotator", "label", "label_name", "skipped", "skip_reason", "created_at"]


class ReviewTaskSerializer(serializers.ModelSerializer):
    text = serializers.CharField(source="item.text")
    source = serializers.CharField(source="item.source.name", default=None)
    answers = ReviewAnswerSerializer(many=True, read_only=True)

    class Meta:
        model = ReviewTask
        fields = ["id", "item", "text", "source", "reason", "detail", "created_at", "answers",
                  "resolved_label", "resolved_at"]


class ReviewCountsSerializer(serializers.Serializer):
    """Counts of tasks (an item can have two open tasks; ``open_items`` counts items)."""
    open = serializers.IntegerField(help_text="Open tasks.")
    open_items = serializers.IntegerField(help_text="Items with an open task (the items' state=in_review).")
    disagreement = serializers.IntegerField()
    low_confidence = serializers.IntegerField()
    lead_request = serializers.IntegerField()
    label_issue = serializers.IntegerField()
    resolved = serializers.IntegerField(help_text="Tasks a lead closed: accepted, relabeled or dismissed.")
    expired = serializers.IntegerField(help_text="Tasks closed without a lead: a newer model no longer found the "
                                                 "item doubtful, a wave picked it, or its answer changed.")
    closed = serializers.IntegerField(help_text="resolved + expired.")


class ReviewQueueSerializer(serializers.Serializer):
    counts = ReviewCountsSerializer()
    results = ReviewTaskSerializer(many=True)


class ResolveSerializer(RefuseUnknownFields, serializers.Serializer):
    task = serializers.IntegerField()
    label = serializers.IntegerField()


class ResolvedSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReviewTask
        # outcome: accepted when the label stored is the model's for the task, else relabeled
        fields = ["id", "item", "reason", "resolved_label", "resolved_by", "resolved_at", "outcome"]
