"""A simulated wave is the wave the product plans.

One database snapshot (items from two sources with quotas, exact and near duplicates, rules, label
descriptions, an uneven label distribution) is planned through the product's path
(labeling.waves.services.plan_next_wave: the database → labeling.waves.pool → the planner) and
through the simulation's (learner.simulation.pool, fed with the same rows read back from the
database). The two waves must be identical: the same items, strategies, reasons and inclusion
probabilities — for the cold start, and again after a retrain, where the simulation trains its
own model the way ``simulate`` does and must reach the probabilities the product stored.
"""
import numpy as np
import pytest

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.modeling.embedding import model_id
from labeling.modeling.embedding_store import project_matrix
from labeling.modeling.models import Embedding, ItemScore
from labeling.modeling.scores import score_version, scores_matrix
from labeling.modeling.selectors import label_targets
from labeling.modeling.versions import activate_version, train_version
from labeling.projects.models import Label, Project, Rule, Source
from labeling.waves import pool as product_pool
from labeling.waves.models import Wave
from labeling.waves.services import close_wave, plan_next_wave
from learner.planning import label_texts
from learner.rules import compile_rule
from learner.simulation.pool import SimPool, plan_simulated_wave, pool_proba, train_simulated_model
from learner.simulation.presets import SimConfig, planner_config
from learner.text import exact_text_hash, text_hash
from learner.training import TrainConfig

pytestmark = pytest.mark.django_db

LABELS = ["billing", "login", "shipping", "refund", "fraud", "chargeback"]
SIZES = [120, 90, 60, 20, 6, 4]  # a long tail: the last two are rare
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo",
         "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"]
DIM = 32


def _word_tag(i: int) -> str:
    # Letters, not digits: digit runs are masked in the duplicate key.
    return " ".join(WORDS[int(d)] for d in str(i))


def _unit(v):
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def snapshot_project(make_user):
    rng = np.random.default_rng(5)
    project = Project.objects.create(slug="parity", name="Parity", wave_size=40, batch_size=10, rare_threshold=30,
                                     double_label_share=0.0)
    labels = {}
    for order, name in enumerate(LABELS):
        labels[name] = Label.objects.create(project=project, name=name, order=order, hotkey=str(order + 1),
                                            description=f"tickets about {name}" if order % 2 else "")
    sources = {"mail": Source.objects.create(project=project, name="mail", quota=0.6),
               "chat": Source.objects.create(project=project, name="chat", quota=0.4)}
    Rule.objects.create(project=project, label=labels["fraud"], kind="keyword", pattern="stolen")
    Rule.objects.create(project=project, label=labels["chargeback"], kind="regex", pattern=r"dispute\w*")
    centers = rng.standard_normal((len(LABELS), DIM))
    truth, rows = {}, []
    n = 0
    for k, (name, size) in enumerate(zip(LABELS, SIZES, strict=True)):
        for j in range(size):
            extra = {"fraud": " my card was stolen", "chargeback": " I opened a dispute"}.get(name, "")
            text = f"ticket {_word_tag(n)} about {name}{extra}"
            if j % 17 == 3:  # exact duplicates of the previous text (digits differ only)
                text = rows[-1][0].replace("ticket", "ticket 42", 1)
            rows.append((text, name, "mail" if n % 3 else "chat", centers[k] + 0.9 * rng.standard_normal(DIM)))
            n += 1
    items = Item.objects.bulk_create([
        Item(project=project, source=sources[src], text=text, text_hash=text_hash(text)) for text, _, src, _ in rows])
    # A near-duplicate group the importer would have formed: three items share the first one's id.
    near = items[10:13]
    Item.objects.filter(pk__in=[i.pk for i in near]).update(dup_group=near[0].pk)
    vectors = {}
    for item, (_, name, _, vec) in zip(items, rows, strict=True):
        truth[item.pk] = name
        vectors.setdefault(item.text_hash, _unit(vec))
    names_and_descriptions = dict(Label.objects.filter(project=project).values_list("name", "description"))
    for k, text in enumerate(label_texts(LABELS, names_and_descriptions)):
        vectors.setdefault(exact_text_hash(text), _unit(centers[k] + 0.3 * rng.standard_normal(DIM)))  # as label texts are read
    Embedding.objects.bulk_create([Embedding(model_id=model_id(), text_hash=h, vector=v.tobytes())
                                   for h, v in vectors.items()])
    return project, truth, make_user("oracle")


def _simulated_pool(project) -> SimPool:
    """The simulation's pool, read back from the same database rows (as a dataset would give them)."""
    ids, embeddings = project_matrix(project.id, model_id())
    meta = {i: (t, s, g) for i, t, s, g in Item.objects.filter(project=project)
            .values_list("id", "text", "source__name", "dup_group")}
    names = list(Label.objects.filter(project=project).order_by("order", "name").values_list("name", flat=True))
    descriptions = dict(Label.objects.filter(project=project).values_list("name", "description"))
    label_vectors = np.stack([np.frombuffer(Embedding.objects.get(text_hash=exact_text_hash(t)).vector, dtype=np.float32)
                              for t in label_texts(names, descriptions)])
    rules = [(r.label.name, compile_rule(r.kind, r.pattern)) for r in Rule.objects.filter(project=project)]
    return SimPool(item_ids=ids, texts=[meta[i][0] for i in ids.tolist()],
                   sources=np.array([meta[i][1] for i in ids.tolist()], dtype=object), embeddings=embeddings,
                   label_names=names, label_vectors=label_vectors, rules=rules,
                   near_groups=np.array([meta[i][2] for i in ids.tolist()], dtype=object))


def _sim_config(project) -> SimConfig:
    return SimConfig(strategy="default", rare_threshold=project.rare_threshold, random_share=project.random_share,
                     label_cap_share=project.label_cap_share, strategy_mix=project.strategy_mix,
                     source_quotas={s.name: s.quota for s in project.sources.all()},
                     band=(project.band_low, project.band_high))


def _pi(value):
    return None if value is None else round(value, 9)


def _product_picks(wave):
    return sorted((p.item_id, p.strategy, p.reason, _pi(p.inclusion_prob), p.design) for p in wave.picks.all())


def _simulated_picks(plan):
    return sorted((int(p.item_id), p.strategy, p.reason[:300], _pi(p.inclusion_prob), p.design) for p in plan.picks)


def test_the_simulated_waves_are_the_waves_the_product_plans(snapshot_project):
    project, truth, oracle = snapshot_project
    pool = _simulated_pool(project)
    label_index = {name: k for k, name in enumerate(pool.label_names)}
    sim = _sim_config(project)

    # Wave 1: the cold start.
    wave1 = plan_next_wave(project)
    assert wave1.cold_start
    plan1 = plan_simulated_wave(pool, np.zeros(len(pool.item_ids), bool), np.full(len(pool.item_ids), -1), None,
                                planner_config(sim, first_wave=True, wave_size=wave1.size),
                                seed=product_pool.wave_seed(project, 1))
    assert _simulated_picks(plan1) == _product_picks(wave1)
    strategies = {p.strategy for p in wave1.picks.all()}
    assert {"rules", "label_names", "random"} <= strategies  # the snapshot exercises the cold start's parts

    # The oracle answers wave 1; the product retrains, scores and activates; the simulation retrains.
    picked = [p.item_id for p in wave1.picks.all()]
    Annotation.objects.bulk_create([Annotation(project=project, item_id=i, annotator=oracle,
                                               label=Label.objects.get(project=project, name=truth[i]))
                                    for i in picked])
    close_wave(wave1)
    version = train_version(project)
    score_version(version)
    activate_version(version)

    row_of = {int(i): r for r, i in enumerate(pool.item_ids)}
    rows = np.array(sorted(row_of[i] for i in picked))
    answers = np.array([truth[int(pool.item_ids[r])] for r in rows], dtype=object)
    model = train_simulated_model(pool, rows, answers, config=TrainConfig.from_dict({"fine_floor": project.fine_floor}),
                                  version=version.number, targets=label_targets(project))
    proba = pool_proba(pool, model)
    stored_ids, stored = scores_matrix(version)
    assert np.array_equal(stored_ids, pool.item_ids)
    cols = [pool.label_names.index(c) for c in version.label_map]
    np.testing.assert_array_equal(proba[:, cols], stored)  # the same model, to the stored precision

    # Wave 2: planned from the model's probabilities.
    wave2 = plan_next_wave(project)
    assert not wave2.cold_start and ItemScore.objects.filter(model_version=version).exists()
    off_limits = np.zeros(len(pool.item_ids), bool)
    off_limits[rows] = True
    labeled_y = np.full(len(pool.item_ids), -1)
    labeled_y[rows] = [label_index[a] for a in answers]
    plan2 = plan_simulated_wave(pool, off_limits, labeled_y, proba,
                                planner_config(sim, first_wave=False, wave_size=wave2.size),
                                seed=product_pool.wave_seed(project, 2))
    assert _simulated_picks(plan2) == _product_picks(wave2)
    assert {"rare", "uncertainty"} <= {p.strategy for p in wave2.picks.all()}
    assert Wave.objects.filter(project=project).count() == 2
