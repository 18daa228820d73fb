"""Reads of the modeling side: the training set, the label taxonomy and targets, model versions."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from labeling.annotations.models import Annotation
from labeling.annotations.selectors import resolve_item_labels
from labeling.items.models import Item
from labeling.projects.models import Label
from learner.planning import duplicate_groups
from learner.planning.snapshot import label_texts

from .models import ModelVersion


@dataclass
class TrainingSet:
    """One row per labeled item, in item-id order."""

    item_ids: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    text_hashes: list[str] = field(default_factory=list)
    # label name → id of every project label, read with the names above: what a version trained on
    # these rows records as its classes' identities (ModelVersion.label_ids)
    label_ids: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.item_ids)


def training_set(project) -> TrainingSet:
    """Every item with a usable answer, its resolved label, and its duplicate group (the
    importer's near-duplicate group, else its exact duplicates: the planner's grouping, so no
    duplicate straddles the validation split)."""
    resolved = resolve_item_labels(project)
    names = dict(Label.objects.filter(project=project).values_list("id", "name"))
    rows = list(Item.objects.filter(id__in=list(resolved)).order_by("id").values_list("id", "dup_group", "text_hash"))
    data = TrainingSet(label_ids={name: pk for pk, name in names.items()})
    if not rows:
        return data
    ids, near, hashes = (list(col) for col in zip(*rows, strict=True))
    data.item_ids = ids
    data.labels = [names[resolved[item_id]] for item_id in ids]
    data.groups = duplicate_groups(ids, near, hashes).tolist()
    data.text_hashes = hashes
    return data


@dataclass(frozen=True)
class LabelSettings:
    """What a training reads of the labels besides the answers: the taxonomy, the precision/recall
    targets and the texts the label-name prior embeds, read in one query before it trains. It learns
    from this read and records this same read (``labels_digest``, ``ModelVersion.config["labels_read"]``):
    a lead's change made while it trains is then not recorded as learned, so the next retrain sees
    a different digest and learns it."""

    parents: dict[str, str]  # fine label name → coarse (parent) label name
    targets: dict[str, dict[str, float]]  # label name → {"precision": p} / {"recall": r} / both
    texts: dict[str, str] | None  # label name → "name: description" (None: no labels)
    read_at: datetime
    # by label id (renames do not count as changes): what ``labels_changed_since`` compares with
    parent_ids: dict[str, int] = field(default_factory=dict)
    target_ids: dict[str, dict[str, float]] = field(default_factory=dict)

    def record(self) -> dict:
        """The JSON a version stores as ``config["labels_read"]``."""
        return {"at": self.read_at.isoformat(), "parents": self.parent_ids, "targets": self.target_ids}


def _target(precision, recall) -> dict[str, float]:
    target = {}
    if precision is not None:
        target["precision"] = float(precision)
    if recall is not None:
        target["recall"] = float(recall)
    return target


def label_settings(project) -> LabelSettings:
    """The project's label taxonomy, targets and label texts now, in one read (``LabelSettings``)."""
    rows = list(Label.objects.filter(project=project).order_by("order", "name").values_list(
        "id", "name", "description", "parent_id", "parent__name", "precision_target", "recall_target"))
    names = [row[1] for row in rows]
    targets = {row[0]: _target(row[5], row[6]) for row in rows}
    return LabelSettings(
        parents={name: parent for _, name, _, _, parent, _, _ in rows if parent is not None},
        targets={name: targets[pk] for pk, name, *_ in rows if targets[pk]},
        texts=dict(zip(names, label_texts(names, {row[1]: row[2] for row in rows}), strict=True)) if rows else None,
        read_at=timezone.now(),
        parent_ids={str(pk): parent_id for pk, _, _, parent_id, *_ in rows if parent_id is not None},
        target_ids={str(pk): target for pk, target in targets.items() if target})


def label_parents(project) -> dict[str, str]:
    """fine label name → coarse (parent) label name, for two-level taxonomies."""
    return label_settings(project).parents


def label_targets(project) -> dict[str, dict[str, float]]:
    """label name → {"precision": p}, {"recall": r} or both. A label with both gets the threshold
    that meets the two together, or is reported infeasible with the reason (learner.thresholds)."""
    return label_settings(project).targets


def labels_changed_since(version: ModelVersion) -> list[str]:
    """What of the label settings a version learned ("taxonomy", "targets") a lead changed since
    its training read them; empty for a version that recorded no read (trained before it was
    recorded, or made outside training)."""
    read = (version.config or {}).get("labels_read")
    if not read:
        return []
    now = label_settings(version.project_id)
    return [what for what, then, current in (("taxonomy", read.get("parents"), now.parent_ids),
                                             ("targets", read.get("targets"), now.target_ids))
            if (then or {}) != current]


def labels_since(project, since) -> int:
    """Usable answers stored after ``since`` (all of them when None)."""
    qs = Annotation.objects.filter(project=project, undone=False, skipped=False)
    if since is not None:
        qs = qs.filter(created_at__gt=since)
    return qs.count()


def active_version(project) -> ModelVersion | None:
    return ModelVersion.objects.filter(project=project, state=ModelVersion.ACTIVE).first()


def model_versions(project):
    return ModelVersion.objects.filter(project=project).defer("artifact").order_by("-number")


# --- a version's classes as the project's labels now ---------------------------------------------
@dataclass(frozen=True)
class ModelLabels:
    """A model version's classes as the project's labels are now. The version learned label names
    (its label_map, the classifier's classes, thresholds and metrics keyed by them); the label ids
    it recorded when it trained keep each class tied to its label through renames. A class whose
    label was deleted since maps to no label (None), never to another label of the same name."""

    trained: tuple[str, ...]  # per column (label_map order): the name the version learned
    ids: tuple[int | None, ...]  # per column: the label's id (None: deleted since training)
    names: tuple[str | None, ...]  # per column: the label's name now (None: deleted since training)
    known: dict[str, tuple[int | None, str | None]]  # every name the version knows → (id, name now)

    def column(self, trained_name: str | None) -> int | None:
        """The column of a class by the name the version learned."""
        return self.trained.index(trained_name) if trained_name in self.trained else None

    def column_of_label(self, label_id: int | None) -> int | None:
        return self.ids.index(label_id) if label_id is not None and label_id in self.ids else None

    def column_named(self, name: str | None) -> int | None:
        """The column of the label named ``name`` now."""
        return self.names.index(name) if name is not None and name in self.names else None

    def label_id(self, trained_name: str | None) -> int | None:
        return (self.known.get(trained_name) or (None, None))[0]

    def current_name(self, trained_name: str | None) -> str | None:
        """The current name of the label a name the version learned (a class, or a coarse parent
        it answers with on fallback) stands for; None when that label is gone."""
        return (self.known.get(trained_name) or (None, None))[1]

    def shown(self, trained_name: str) -> str:
        """The name to show for a class or metric key the version learned: the label's name now, or
        the learned name marked as deleted; a key that names no class (a report's "macro avg")
        unchanged."""
        if trained_name not in self.known:
            return trained_name
        return self.current_name(trained_name) or f"{trained_name} (deleted label)"


def model_labels(version: ModelVersion, labels: dict[int, str] | None = None) -> ModelLabels:
    """The version's classes as labels now (``labels``: the project's label id → name, when the
    caller has read them). A version that recorded no ids (made outside training) is matched to
    the labels by name, as every version was before the ids were recorded."""
    if labels is None:
        labels = dict(Label.objects.filter(project_id=version.project_id).values_list("id", "name"))
    trained = tuple(str(name) for name in version.label_map or [])
    recorded = version.label_ids or {}
    if recorded:
        ids = {name: pk if pk in labels else None for name, pk in recorded.items()}
    else:
        by_name = {name: pk for pk, name in labels.items()}
        ids = {name: by_name.get(name) for name in (*trained, *labels.values())}
    known = {name: (pk, labels.get(pk) if pk is not None else None) for name, pk in ids.items()}
    return ModelLabels(trained=trained, ids=tuple(ids.get(name) for name in trained),
                       names=tuple(known.get(name, (None, None))[1] for name in trained), known=known)


def predicted_name(detail) -> str | None:
    """The model's predicted label in a low-confidence task's detail (both shapes stored): its name
    when the task was routed (the name the version learned, for tasks routed before label ids)."""
    detail = detail or {}
    prediction = detail.get("prediction")
    name = detail.get("predicted") or (prediction.get("label") if isinstance(prediction, dict) else None)
    return name if isinstance(name, str) and name else None


# Where a model-made review task keeps the label the model proposes: (id key, name key) by reason.
PROPOSAL_KEYS = {"low_confidence": ("predicted_label_id", "predicted"), "label_issue": ("suggested_label_id",
                                                                                         "suggested_label")}


def proposed_labels(project, tasks) -> dict[int, tuple[int, str] | None]:
    """For model-made review tasks ``tasks`` (rows with pk, reason, detail, model_version; of
    ``project``): task pk → (id, current name) of the label the model proposes, None where it
    proposes none or its label is gone. By the id the task recorded; a task routed before ids were
    recorded, by its name through the label ids of the version that routed it (by the current
    name where that version recorded none)."""
    tasks = list(tasks)
    labels = dict(Label.objects.filter(project=project).values_list("id", "name"))
    numbers = {t.model_version for t in tasks if t.model_version is not None}
    recorded = dict(ModelVersion.objects.filter(project=project, number__in=numbers)
                    .values_list("number", "label_ids")) if numbers else {}
    by_name = {name: pk for pk, name in labels.items()}
    out: dict[int, tuple[int, str] | None] = {}
    for task in tasks:
        id_key, name_key = PROPOSAL_KEYS.get(task.reason, (None, None))
        detail = task.detail or {}
        if id_key is None:
            pk = None
        elif id_key in detail:
            pk = detail[id_key] if isinstance(detail[id_key], int) else None
        else:
            name = predicted_name(detail) if name_key == "predicted" else detail.get(name_key)
            ids = recorded.get(task.model_version) or {}
            pk = ids.get(name) if ids else by_name.get(name)
        out[task.pk] = (pk, labels[pk]) if pk in labels else None
    return out


def model_choices(version: ModelVersion | None) -> dict | None:
    """The training choices of a version as its report records them (head, structure and the
    evidence that chose it, fallback floor, calibration, Other bucket, label-name prior and the
    evidence that chose it), plus a one-line summary."""
    metrics = (version.metrics or {}) if version is not None else {}
    choices = metrics.get("choices")
    if not choices:
        return None
    head = choices.get("head") or {}
    weights = {"effective": "effective-number class weights", "inverse": "inverse-frequency class weights",
               "none": "no class weights"}.get(head.get("weighting"))
    parts = ["logistic regression" + (f" (C {head['C']:g})" if isinstance(head.get("C"), (int, float)) else "")
             if head.get("name") == "logreg" else
             f"torch head, {head.get('loss', 'ce')} loss" + (f", on {head['device']}" if head.get("device") else "")]
    names = {"flat": "flat", "coarse_then_fine": "coarse → fine", "blend": "blend of flat and coarse → fine"}
    structure = names.get(choices.get("structure"), "flat")
    evidence = metrics.get("hierarchy_choice") or {}
    before, served = choice_basis(metrics)
    if evidence.get("macro_f1"):
        scores = ", ".join(f"{names.get(k, k)} {v:.3f}" for k, v in evidence["macro_f1"].items())
        structure += f" (chosen by out-of-fold macro-F1: {scores}{before}{served})"
        served = ""  # said once, with the first choice's scores
    elif evidence.get("reason"):
        structure += f" ({evidence['reason']})"
    else:
        structure += f" ({choices.get('structure_chosen_by', 'configuration')})"
    if weights:
        parts.append(weights)
    parts.append(structure)
    floor = fine_floor_phrase(version, choices, evidence)
    if floor:
        parts.append(floor)
    calibration = f"calibration {choices.get('calibration') or 'none'}"
    matched = (metrics.get("calibration") or {}).get("matched_on_unlabeled")
    if matched:
        calibration += f" (served model matched on {matched} unlabeled items to the out-of-fold models)"
    parts.append(calibration)
    other = choices.get("other_bucket")
    # where the bucket is, for a coarse → fine or blended model (its report lists the labels per part)
    where = [part for part, n in ((other or {}).get("parts") or {}).items() if n]
    groups = sum("fine:" in part for part in where)
    where = ["the flat part"] * ("flat" in where) + [f"{groups} coarse group" + "s" * (groups > 1)] * (groups > 0)
    parts.append(f"Other bucket under {other['min_examples']} examples ({other['labels']} labels"
                 f"{', in ' + ' and '.join(where) if where else ''})" if other else "no Other bucket")
    prior = label_prior_summary(choices.get("label_prior"), metrics.get("label_prior_choice"), before + served)
    if prior:
        parts.append(prior)
    mix = threshold_mix_summary(metrics.get("threshold_mix"))
    if mix:
        parts.append(mix)
    guard = threshold_guard_rows(metrics)
    if guard:
        parts.append(f"thresholds guarded against confusions the labeled items do not show ({guard:g} prior rows "
                     "per label)")
    if metrics.get("final_model"):
        parts.append(f"fine-tuned encoder ({metrics['final_model'].get('base_model', 'MiniLM')})")
    # only for a stored version that serves or may be served (one read of the labels each); a
    # stand-in holding only a report has no state
    serving = getattr(version, "state", None) in (ModelVersion.ACTIVE, ModelVersion.READY)
    changed = labels_changed_since(version) if serving else []
    if changed:
        parts.append(earlier_labels_phrase(version, changed))
    return {**choices, "hierarchy_evidence": evidence or None,
            "label_prior_evidence": metrics.get("label_prior_choice") or None,
            "labels_changed_since": changed or None, "summary": " · ".join(parts)}


def fine_floor_phrase(version: ModelVersion | None, choices: dict, evidence: dict) -> str | None:
    """The fallback floor the version serves (below it only the coarse label is emitted) and, where
    the out-of-fold evidence of hierarchy "auto" replaced the project's floor, the one set and both
    scores. None for a version without a coarse → fine taxonomy (no floor applies)."""
    served = choices.get("fine_floor")
    labels_read = ((getattr(version, "config", None) or {}).get("labels_read") or {})
    if not isinstance(served, (int, float)) or not (evidence or labels_read.get("parents")
                                                   or choices.get("structure") not in (None, "flat")):
        return None
    configured = evidence.get("fine_floor_set", ((getattr(version, "config", None) or {}).get("train") or {})
                              .get("fine_floor"))
    text = f"fine-label floor {served:g}"
    scores = evidence.get("floors") or {}
    if not scores:
        return text + (" (the floor set)" if evidence else " (setting)")
    if not isinstance(configured, (int, float)) or abs(configured - served) < 1e-9:
        return text + " (the floor set, kept by out-of-fold macro-F1 with abstention)"
    chosen, kept = scores.get(f"{served:g}"), scores.get(f"{configured:g}")
    return text + (f" (set: {configured:g}; label hierarchy auto chose {served:g} by out-of-fold macro-F1 with "
                   "abstention" + (f": {chosen:.3f} against {kept:.3f}" if chosen is not None and kept is not None
                                   else "") + ")")


def earlier_labels_phrase(version: ModelVersion, changed: list[str]) -> str:
    """Says that a version learned the label taxonomy / targets as they were before a lead changed
    them (``labels_changed_since``), and when it read them."""
    at = datetime.fromisoformat(version.config["labels_read"]["at"])
    return (f"trained under the earlier label {' and '.join(changed)} (read {at:%Y-%m-%d %H:%M:%S} UTC, changed "
            "since): the next retrain learns the current ones")


def threshold_guard_rows(metrics: dict | None) -> float:
    """The prior rows per label a version's thresholds were guarded with against confusions its
    labeled items do not show (the project's threshold_guard); 0 when not guarded."""
    return float(((metrics or {}).get("config") or {}).get("threshold_unseen_prior") or 0.0)


def threshold_mix_summary(mix: dict | None) -> str | None:
    """One phrase for the class mix the thresholds hold on: which, and how it was obtained (or why
    the setting fell back). None for versions trained before the setting existed."""
    if not mix:
        return None
    used = {"pool": "the pool's class mix", "uniform": "a uniform class mix", "stated": "a stated class mix",
            "labeled": "the labeled items' class mix"}.get(mix.get("used"), str(mix.get("used")))
    text = f"thresholds hold on {used}"
    if mix.get("used") == "pool" and mix.get("unlabeled_rows"):
        text += f" (estimated from {mix['unlabeled_rows']} unlabeled items)"
    elif mix.get("reason"):
        text += f" (setting {mix.get('setting')}: {mix['reason']})"
    return text


def choice_basis(metrics: dict) -> tuple[str, str]:
    """What the out-of-fold scores of a training choice (structure, label-name prior) were measured
    on, and the served model's own out-of-fold macro-F1 to show beside them: two phrases that close
    the caption's parenthesis. The choices are made on the labeled rows before self-training
    (``learner.training.fit``); the served model then trains with the pseudo-labeled rows added, so
    its figure (the report's validation macro-F1, the learning curve's) is another model's and can
    be lower than every score that chose it."""
    pseudo = (metrics.get("self_training") or {}).get("pseudo_rows") or 0
    served = (metrics.get("validation") or {}).get("macro_f1")
    before = ", scored before self-training" if pseudo else ""
    if not isinstance(served, (int, float)):
        return before, ""
    return before, (f"; the served model, trained with {pseudo} pseudo-labeled rows added: {served:.3f} out of fold"
                    if pseudo else f"; the served model: {served:.3f} out of fold")


def label_prior_summary(prior: dict | None, evidence: dict | None, basis: str = "") -> str | None:
    """One phrase for the label-name prior: used or not, on how many labels, and what chose it
    (the out-of-fold scores with and without it, then ``basis``: what they were measured on and the
    served model's figure, ``choice_basis``; or the project's setting). None for versions trained
    before the setting existed."""
    if not prior:
        return None
    state = f"label-name prior on ({prior.get('rows', 0)} labels)" if prior.get("used") else "label-name prior off"
    evidence = evidence or {}
    scores = evidence.get("macro_f1") or {}
    if "on" in scores and "off" in scores:
        margin = evidence.get("margin")
        seen = evidence.get("macro_f1_seen_in_fold") or {}
        return (f"{state} (chosen by out-of-fold macro-F1: with {scores['on']:.3f}, without {scores['off']:.3f}"
                + (f", margin {margin:.3f}" if isinstance(margin, (int, float)) else "")
                + (f"; on the labels each fold had rows for: with {seen['on']:.3f}, without {seen['off']:.3f}"
                   if "on" in seen and "off" in seen else "")
                + basis + ")")
    if evidence.get("reason"):
        return f"{state} ({evidence['reason']})"
    return f"{state} (setting {prior.get('setting', 'auto')})"
