"""What the annotation page shows with each item besides its text: the metadata fields the lead
chose (``Project.annotator_metadata``), where the project's rules match the text (spans as
code-point offsets; the page builds text nodes from them, never markup) and, when the project
turns suggestions on, the active model's top label with its calibrated probability.

Highlighting a batch has a time budget (LONGTAIL_HIGHLIGHT_TIME_BUDGET_SECONDS): a slow rule
(stored before the program-size cap, or under a raised one) cannot hold a lease or the page for
seconds; once it is spent the items left get no highlights and ``highlights_cut`` with a note."""
from django.conf import settings

from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.modeling.selectors import model_labels
from labeling.projects.models import Label, Project
from learner.deadline import Deadline
from learner.rules import compile_rule, rule_spans

MAX_HIGHLIGHTS = 200  # per item: enough to see the matches, bounded for a 20,000-character text
MAX_META_CHARS = 500


def _rules(project: Project) -> list[tuple[str, object]]:
    rules = []
    for rule in project.rules.filter(enabled=True).select_related("label").order_by("pk"):
        try:
            rules.append((rule.label.name, compile_rule(rule.kind, rule.pattern)))
        except ValueError:
            continue  # a stored rule that no longer compiles shows nothing rather than break the page
    return rules


class HighlightBudget(Deadline):
    """The seconds one batch may spend highlighting, and whether they ran out."""

    def left(self) -> bool:
        return not self.expired()

    @property
    def spent(self) -> bool:
        """Whether a look at the clock found the budget spent (reads no clock itself)."""
        return self.passed

    def note(self) -> str:
        return (f"Rule highlights were cut short: highlighting this batch took longer than its budget of "
                f"{self.seconds:g} s (LONGTAIL_HIGHLIGHT_TIME_BUDGET_SECONDS), so this item's are missing or incomplete. "
                "A lead can make the project's slow regular expressions smaller.")


def highlights(text: str, rules, budget: HighlightBudget | None = None) -> list[list]:
    """[start, end, label name] of every rule match, in text order, overlaps merged into the first.
    With ``budget``: the rules after it ran out are left out (``budget.spent`` says so)."""
    spans = []
    for label, matcher in rules:
        if budget is not None and not budget.left():
            break
        for start, end in rule_spans(matcher, text):
            if end > start:
                spans.append((start, end, label))
            if len(spans) > MAX_HIGHLIGHTS * 4:
                break
    spans.sort()
    merged: list[list] = []
    for start, end, label in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            continue
        merged.append([start, end, label])
    return merged[:MAX_HIGHLIGHTS]


def _shown_value(value) -> str:
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    return text if len(text) <= MAX_META_CHARS else text[: MAX_META_CHARS - 1] + "…"


def _suggestions(project: Project, item_ids: list[int]) -> dict[int, dict]:
    model = ModelVersion.objects.filter(project=project, state=ModelVersion.ACTIVE).only(
        "pk", "project_id", "label_map", "label_ids", "number").first()
    if model is None:
        return {}
    by_id = {label.pk: label for label in Label.objects.filter(project=project)}
    # each class by the label it was when the model trained, whatever that label is named now
    ids = model_labels(model, {pk: label.name for pk, label in by_id.items()}).ids
    out = {}
    for item_id, top, prob in ItemScore.objects.filter(model_version=model, item_id__in=item_ids).values_list(
            "item_id", "top_label", "top_prob"):
        label = by_id.get(ids[top]) if 0 <= top < len(ids) else None
        if label is not None:
            out[item_id] = {"label": label.pk, "label_name": label.name, "hotkey": label.hotkey,
                            "prob": round(float(prob), 3), "model": model.number}
    return out


def enrich(project: Project, payloads: list[dict], *, budget: HighlightBudget | None = None) -> list[dict]:
    """Add ``metadata`` ([key, value] in the lead's order), ``highlights``, ``highlights_cut``
    (true, with ``highlights_note``, when the highlighting budget ran out before or while the item
    was highlighted: its highlights are missing or incomplete) and ``suggestion`` (null when off or
    unscored) to leased-item payloads, in place; returns them. ``budget``: one shared by the calls of
    one request (the page enriches its held and its answered items), else a new one of the setting's seconds."""
    if not payloads:
        return payloads
    ids = [p["item"] for p in payloads]
    fields = [str(f) for f in (project.annotator_metadata or [])]
    metadata = dict(Item.objects.filter(pk__in=ids).values_list("pk", "metadata")) if fields else {}
    rules = _rules(project)
    suggestions = _suggestions(project, ids) if project.show_suggestions else {}
    budget = budget or HighlightBudget(settings.LONGTAIL_HIGHLIGHT_TIME_BUDGET_SECONDS)
    for payload in payloads:
        meta = metadata.get(payload["item"]) or {}
        payload["metadata"] = [[f, _shown_value(meta[f])] for f in fields if f in meta]
        payload["highlights"] = highlights(payload.get("text") or "", rules, budget) if budget.left() else []
        # Spent while this item was highlighted: its highlights may be incomplete, so it says so too.
        payload["highlights_cut"] = budget.spent
        payload["highlights_note"] = budget.note() if budget.spent else ""
        payload["suggestion"] = suggestions.get(payload["item"])
    return payloads


def metadata_keys(project: Project, sample: int = 500) -> list[str]:
    """Metadata keys seen in the project's items (a sample), for the settings page's hint."""
    keys: dict[str, None] = {}
    for meta in Item.objects.filter(project=project).order_by("pk").values_list("metadata", flat=True)[:sample]:
        if isinstance(meta, dict):
            keys.update(dict.fromkeys(str(k) for k in meta))
    return sorted(keys)
