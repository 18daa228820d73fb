"""The one place that turns the database into the planner's input (``learner.planning``).

``planner_snapshot(project, version)`` reads every embedded item, what is off limits (answered,
in an unfinished wave), the resolved labels, the active model's stored probabilities (items it
has not scored yet are scored here, on the vectors its head reads: ``labeling.items.scoring``),
the rules' matches (only for a plan whose mix reads them, on the rows a draw may take) and the label vectors, and builds the ``PoolSnapshot`` with the same helpers the simulation uses
(``learner.simulation.pool``): tests/test_parity.py plans one snapshot through both.
``planner_config(project, wave_size)`` builds the wave's configuration from the project's
settings, as the simulation's "default" preset does.
"""
from __future__ import annotations

import logging
import time

import numpy as np
from django.conf import settings

from labeling.annotations.selectors import counts_under_parents, resolve_item_labels
from labeling.items.models import Item
from labeling.items.scoring import head_vectors
from labeling.modeling import embedding
from labeling.modeling.embedding_store import project_matrix
from labeling.modeling.scores import scores_matrix
from labeling.modeling.selectors import model_labels
from labeling.modeling.versions import active_model, load_classifier
from labeling.projects.models import Label, Project, Rule
from learner.jsonable import to_jsonable
from learner.planning import PlannerConfig, PoolSnapshot, duplicate_groups, label_texts, project_proba
from learner.rules import MatchReport, compile_rule, match_rules

from . import selectors

log = logging.getLogger(__name__)


def planner_config(project: Project, wave_size: int) -> PlannerConfig:
    return PlannerConfig.from_settings(
        wave_size=wave_size, strategy_mix=project.strategy_mix, random_share=project.random_share,
        source_quotas={s.name: s.quota for s in project.sources.all()}, label_cap_share=project.label_cap_share,
        rare_threshold=project.rare_threshold, band=(project.band_low, project.band_high))


# The settings a plan is made under besides the model: planner_config's, the batches and double
# labels the wave is cut into (services._persist), the budget its size is shrunk to.
PLAN_SETTINGS = ("wave_size", "batch_size", "overlap", "double_label_share", "label_budget", "strategy_mix",
                 "random_share", "label_cap_share", "rare_threshold", "band_low", "band_high")
# What a model's mix alone reads: a cold start draws by the fixed cold-start mix (learner.planning.plan._mix),
# whose strategies read no band, so these shape no cold-start plan.
MODEL_ONLY_SETTINGS = ("strategy_mix", "band_low", "band_high")


def plan_settings(project: Project, cold: bool | None = None) -> dict:
    """The project's settings that shape a wave, as the plan stores them (report["planned_under"]):
    a waiting plan made under others is stale (labeling.waves.discard). ``cold``: for a cold-start
    plan (True) or a model's (False); None: the kind a plan made now is (no active model: a cold
    start). Each kind records what shapes it alone, so that a waiting plan is compared with what
    shapes it whatever model is active now: a cold start records the rules and not the model's mix
    and band; a model's plan the reverse. ``source_quotas``: [source id, quota] pairs (``recorded_quotas``)."""
    cold = active_model(project) is None if cold is None else cold
    fields = [f for f in PLAN_SETTINGS if not (cold and f in MODEL_ONLY_SETTINGS)]
    settings = {field: getattr(project, field) for field in fields}
    if not cold:
        # as the planner reads the mix (learner.planning.plan: shares of 0 are no strategy), so that
        # adding or removing a zero share changes no plan
        settings["strategy_mix"] = {name: float(share) for name, share in
                                    sorted((settings["strategy_mix"] or {}).items()) if float(share) > 0}
    # the rules shape only a plan whose mix draws by them (the cold start's): recorded for it alone, so
    # that a rule change leaves a model's plan as it is and makes a cold-start plan stale
    rules = enabled_rules(project) if reads_rules(project, cold) else None
    return to_jsonable({**settings, "source_quotas": recorded_quotas(project), "rules": rules})


def recorded_quotas(project: Project) -> list[list]:
    """[source id, quota] of each source with a quota, in id order, as a plan records them. By id, not
    name: the items a quota draws are the source's, so two sources swapping names (each keeping its
    quota) changes the plan, and a plain rename changes none. A source without a quota is left out: an
    import that brings a new source gives it none, and that changes no plan. A list, not a dict, so
    that it is never read as the {name: quota} plans recorded before (``quotas_by_name``)."""
    return [[pk, quota] for pk, quota in project.sources.filter(quota__gt=0).order_by("pk").values_list("pk", "quota")]


def quotas_by_name(project: Project) -> dict:
    """{name: quota} of each source with a quota: what plans recorded as ``source_quotas`` before they
    recorded them by source id; a waiting plan stored then is compared with this, not thrown away."""
    return to_jsonable(dict(project.sources.filter(quota__gt=0).order_by("name").values_list("name", "quota")))


def reads_rules(project: Project, cold: bool) -> bool:
    """Whether a plan (a cold start's, or a model's) has a strategy that reads the rules' matches:
    only the ``rules`` draw does (learner.planning.strategies.rules), and it is in the cold-start
    mix (a lead cannot put it in the model's mix; ``shares``)."""
    config = planner_config(project, project.wave_size or 1)
    return float((config.cold_start_mix if cold else config.strategy_mix).get("rules", 0.0)) > 0


def enabled_rules(project: Project) -> list[list]:
    """[label id, kind, pattern] of each enabled rule, in a fixed order: what a plan drew by."""
    return [list(rule) for rule in Rule.objects.filter(project=project, enabled=True)
            .order_by("label_id", "kind", "pattern").values_list("label_id", "kind", "pattern")]


def wave_seed(project: Project, number: int) -> int:
    return project.id * 100_003 + number


def project_label_names(project: Project) -> list[str]:
    """The planner's label list: every label of the project, in the project's order (labels the
    active model has not seen yet stay in view, with probability 0)."""
    return list(Label.objects.filter(project=project).order_by("order", "name").values_list("name", flat=True))


# What a plan may not draw is one definition, in ``selectors`` (``off_limits_parts``), which the
# message of an empty plan (``selectors.why_nothing_to_plan``) reads too; re-exported here for the
# planner and its callers.
leased_items = selectors.leased_items
pinned_items = selectors.pinned_items
off_limits_items = selectors.off_limits_items


def embed_missing(project: Project) -> None:
    """Vectors for the items that have none yet (the planner's pool is the embedded items)."""
    if embedding.unembedded_item_ids(project):
        embedding.embed_project(project)


def planner_snapshot(project: Project, version, timings: dict) -> PoolSnapshot:
    """Every item with an embedding, in id order, as the planner sees it (see the module doc)."""
    t = time.perf_counter()
    embed_missing(project)  # plan_next_wave embeds before it takes the project's lock; items imported since
    ids, embeddings = project_matrix(project.id, embedding.model_id())
    timings["load_embeddings"] = round(time.perf_counter() - t, 3)

    t = time.perf_counter()
    meta = {item_id: (source or "", group, h, text) for item_id, source, group, h, text in (
        Item.objects.filter(project=project).values_list("id", "source__name", "dup_group", "text_hash", "text"))}
    rows = [meta[i] for i in ids.tolist()]
    sources = np.array([r[0] for r in rows], dtype=object)
    groups = duplicate_groups(ids, [r[1] for r in rows], [r[2] for r in rows])
    taken = off_limits_items(project)
    off_limits = np.fromiter((i in taken for i in ids.tolist()), dtype=bool, count=len(ids))
    label_names = project_label_names(project)
    index = {name: k for k, name in enumerate(label_names)}
    name_by_id = dict(Label.objects.filter(project=project).values_list("id", "name"))
    row_of = {item_id: row for row, item_id in enumerate(ids.tolist())}
    labeled_y = np.full(len(ids), -1, dtype=np.int64)
    for item_id, label_id in resolve_item_labels(project).items():
        if item_id in row_of:
            labeled_y[row_of[item_id]] = index[name_by_id[label_id]]
    timings["load_pool"] = round(time.perf_counter() - t, 3)

    t = time.perf_counter()
    proba = None
    if version is not None:
        proba = _listed_columns(version, _pool_proba(version, ids, embeddings, timings), label_names, timings)
    timings["load_scores"] = round(time.perf_counter() - t, 3)
    label_counts = _label_counts(project, labeled_y, index, proba)

    t = time.perf_counter()
    rule_report = MatchReport()
    rule_rows = {}
    if len(ids) and reads_rules(project, proba is None):  # after the cold start no strategy reads them
        free = np.flatnonzero(~off_limits)  # the rows a draw may take: matching the rest only costs time
        matched = match_rules(_compiled_rules(project), [rows[r][3] for r in free.tolist()], index,
                              budget_s=settings.LONGTAIL_RULE_TIME_BUDGET_SECONDS, report=rule_report)
        rule_rows = {k: free[found] for k, found in matched.items()}
    if rule_report.partial:
        # The wave report keeps it (timings): rows past the budget count as unmatched.
        log.warning("%s: %s", project.slug, rule_report.message())
        timings["rules_partial"] = rule_report.message()
    descriptions = dict(Label.objects.filter(project=project).values_list("name", "description"))
    label_vectors = (embedding.embed_query_texts(label_texts(label_names, descriptions), project_id=project.id)
                     if label_names and len(ids) else None)
    timings["rules_and_label_vectors"] = round(time.perf_counter() - t, 3)
    return PoolSnapshot(item_ids=ids, label_names=label_names, labeled=off_limits, sources=sources, dup_groups=groups,
                        embeddings=embeddings if len(ids) else None, proba=proba, labeled_y=labeled_y,
                        rule_rows=rule_rows, label_vectors=label_vectors, label_counts=label_counts)


def _label_counts(project: Project, labeled_y: np.ndarray, index: dict[str, int],
                  proba: np.ndarray | None) -> np.ndarray:
    """Labeled items per label, a coarse label's fine labels' items included (``counts_under_parents``:
    a fine answer implies its parent); the rare strategy reads these. Counted under its exact label
    only, a coarse label answered only at the fine level stayed "none labeled" and drew picks near
    its name every wave, with that false reason. ``labeled_y`` keeps the exact label.

    One exception, for the planner only: a coarse label with no item of its own (every one answered
    at the fine level) and no probability column (the model learns fine classes) gives the rare
    strategy nothing to rank by: p is 0 on every item and it has no example of its own to search
    around, so it would fill its share with arbitrary items ("p=0.00"). It is handed over at the rare
    threshold, not rare: its fine labels, rare or not by their own counts, are what is sought."""
    own = np.bincount(labeled_y[labeled_y >= 0], minlength=len(index))[:len(index)]
    parents = {index[fine]: index[coarse] for fine, coarse in
               Label.objects.filter(project=project, parent__isnull=False).values_list("name", "parent__name")
               if fine in index and coarse in index}
    counts = counts_under_parents(dict(enumerate(own.tolist())), parents)
    for coarse in set(parents.values()):
        blind = proba is not None and not proba[:, coarse].any()
        if counts[coarse] > 0 and own[coarse] == 0 and blind:
            counts[coarse] = max(counts[coarse], project.rare_threshold)
    return np.array([counts[k] for k in range(len(index))], dtype=np.int64)


def _listed_columns(version, proba: np.ndarray, label_names: list[str], timings: dict) -> np.ndarray:
    """The version's probability columns placed on the project's label list, each under its label's
    name now (matched by the label ids the version recorded: a label renamed since it trained keeps
    its column, and two labels that swapped names each keep their own). A class whose label was
    deleted since is left out until the next retrain, and the wave's report says so: a lead's label
    edit must not stop every plan (and the loop) until then. Its share is not spread over the others:
    the items the version gave to it come out unsure, as they are until a retrain learns the labels
    as they are now."""
    columns = model_labels(version)
    listed = set(label_names)
    keep = [k for k, name in enumerate(columns.names) if name in listed]
    if len(keep) < len(columns.trained):
        gone = [columns.trained[k] for k in range(len(columns.trained)) if k not in keep]
        timings["model_labels_not_listed"] = (
            f"model v{version.number} knows {', '.join(map(repr, gone))}, which the project no longer lists "
            "(deleted since it trained): planned without those columns until the next retrain")
        log.warning("%s: %s", version.project_id, timings["model_labels_not_listed"])
    return project_proba(proba[:, keep], [columns.names[k] for k in keep], label_names)


def _pool_proba(version, ids: np.ndarray, embeddings: np.ndarray, timings: dict) -> np.ndarray:
    """Stored scores for the pool (columns in the version's label_map order); items imported
    after scoring are scored here (not stored), on the vectors the version's head reads: the
    frozen ``embeddings`` for a retrain's version, its own encoder's for a final model (encoded
    here where missing: a head fed another encoder's vectors returns noise, not an error)."""
    scored_ids, scored = scores_matrix(version)
    proba = np.zeros((len(ids), len(version.label_map)), dtype=np.float32)
    rows = np.searchsorted(scored_ids, ids)
    rows = np.clip(rows, 0, max(0, len(scored_ids) - 1))
    have = (len(scored_ids) > 0) & (scored_ids[rows] == ids) if len(scored_ids) else np.zeros(len(ids), bool)
    if have.any():
        proba[have] = scored[rows[have]]
    if (~have).any():
        timings["scored_here"] = int((~have).sum())
        proba[~have] = load_classifier(version).predict_proba(head_vectors(version, ids[~have], embeddings[~have]))
    return proba


def _compiled_rules(project: Project) -> list:
    """(label name, matcher) of the project's enabled rules; a rule that no longer compiles is
    skipped with a warning (the editor refuses such rules; an old one may predate a check)."""
    out = []
    for rule in Rule.objects.filter(project=project, enabled=True).select_related("label").order_by("pk"):
        try:
            out.append((rule.label.name, compile_rule(rule.kind, rule.pattern)))
        except ValueError:
            log.warning("rule %s of %s does not compile; skipped", rule.pk, project.slug)
    return out
