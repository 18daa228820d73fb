"""A served final model reads its fine-tuned encoder's vectors, never the frozen ones: items
imported after it went live (no stored score, no fine-tuned vector yet) get from the planner the
probabilities the predict API gives for their texts, and ``score_new_items`` stores those scores.

The frozen vectors are noise here (as in tests/test_final_model.py) while the texts name their
label, so a head fed the frozen vectors guesses and the fine-tuned encoder's head does not."""
import numpy as np
import pytest

from tests import test_loop_helpers as helpers

eager_celery = helpers.eager_celery
N_NEW = 15


tiny_finetune = helpers.tiny_finetune


def _served_final_model(project_factory, capture, slug):
    """A project served by a final model, then N_NEW items imported after it went live, embedded
    with the frozen encoder only (what the import's embedding run does): (project, version,
    {new item id: true label})."""
    from labeling.items.models import Item
    from labeling.modeling.models import ItemScore
    from learner.text import text_hash

    rng = np.random.default_rng(11)
    project, _ = helpers.build_project(project_factory, slug=slug, n_items=120, n_labeled=48)
    version = helpers.serve_final_model(project, capture, rng)
    names = ["billing", "login", "fraud"]
    source = project.sources.first()
    new = {}
    for k in range(N_NEW):
        text = f"{names[k % 3]} {helpers.WORDS[(k * 7) % len(helpers.WORDS)]} request later{k}"
        item = Item.objects.create(project=project, source=source, text=text, text_hash=text_hash(text))
        new[item.id] = names[k % 3]
    helpers.noise_frozen_vectors([text_hash(t) for t in Item.objects.filter(id__in=new).values_list("text", flat=True)], rng)
    assert not ItemScore.objects.filter(model_version=version, item_id__in=new).exists()
    return project, version, new


def _served_probabilities(project, new, label_names):
    """What the predict API answers for the new items' texts, columns in ``label_names`` order."""
    from labeling.items.models import Item
    from labeling.modeling.predict import predict_texts

    texts = dict(Item.objects.filter(id__in=new).values_list("id", "text"))
    rows = predict_texts(project, [texts[i] for i in sorted(new)])
    return np.array([[row["probabilities"].get(name, 0.0) for name in label_names] for row in rows])


def test_planner_scores_new_items_with_the_final_models_own_encoder(db, project_factory, eager_celery, tiny_finetune,
                                                                    django_capture_on_commit_callbacks):
    from labeling.modeling.embedding_store import clear_memos
    from labeling.waves.pool import planner_config, planner_snapshot
    from learner.planning import plan_wave

    project, version, new = _served_final_model(project_factory, django_capture_on_commit_callbacks, "ftplan")
    timings: dict = {}
    snap = planner_snapshot(project, version, timings)
    rows = np.flatnonzero(np.isin(snap.item_ids, list(new)))
    assert len(rows) == N_NEW  # every new item is in the pool the planner sees
    planned = snap.proba[rows]
    clear_memos()
    served = _served_probabilities(project, new, snap.label_names)
    # the planner's probabilities of the new items are the served model's, not noise
    assert np.allclose(planned, served, atol=2e-3), (planned.round(3), served.round(3))
    truth = [new[int(i)] for i in snap.item_ids[rows]]
    predicted = [snap.label_names[k] for k in planned.argmax(axis=1)]
    assert sum(p == t for p, t in zip(predicted, truth, strict=True)) >= N_NEW - 2, (predicted, truth)
    # and they plan like every other item: a wave over the pool can pick them
    plan = plan_wave(snap, planner_config(project, 20), seed=1)
    assert plan.picks and all(p.inclusion_prob is None or 0 < p.inclusion_prob <= 1 for p in plan.picks)


def test_new_items_get_the_final_models_stored_scores(db, project_factory, eager_celery, tiny_finetune,
                                                      django_capture_on_commit_callbacks):
    from labeling.items.scoring import score_new_items
    from labeling.modeling.embedding_store import clear_memos
    from labeling.modeling.final import version_encoder_id
    from labeling.modeling.models import Embedding, ItemScore
    from labeling.modeling.scores import scores_matrix

    project, version, new = _served_final_model(project_factory, django_capture_on_commit_callbacks, "ftstore")
    before = Embedding.objects.filter(model_id=version_encoder_id(version)).count()
    assert score_new_items(project, list(new)) >= N_NEW
    # encoded once with the fine-tuned encoder, under its own key
    assert Embedding.objects.filter(model_id=version_encoder_id(version)).count() == before + N_NEW
    assert ItemScore.objects.filter(model_version=version, item_id__in=new).count() == N_NEW
    assert score_new_items(project, list(new)) == 0  # nothing left to score
    ids, stored = scores_matrix(version, item_ids=sorted(new))
    clear_memos()
    served = _served_probabilities(project, new, list(version.label_map))
    assert ids.tolist() == sorted(new)
    assert np.allclose(stored, served, atol=2e-3)  # float16 storage, 4-decimal API
    top = dict(ItemScore.objects.filter(model_version=version, item_id__in=new).values_list("item_id", "top_label"))
    right = sum(version.label_map[top[i]] == label for i, label in new.items())
    assert right >= N_NEW - 2


def test_a_host_without_the_final_models_encoder_folder_refuses_with_the_reason(db, project_factory, tmp_path):
    """Where the artifact storage is not mounted, the items a served final model must embed get a
    refusal that says so (the planning views answer it as a 4xx), never another encoder's vectors."""
    from labeling.items import scoring
    from labeling.items.models import Item
    from labeling.modeling.embedding import model_id
    from labeling.modeling.models import ModelVersion

    project, _ = helpers.build_project(project_factory, slug="no-folder", n_items=12, n_labeled=6)
    missing = tmp_path / "final-v2" / "encoder"
    version = ModelVersion.objects.create(
        project=project, number=2, state=ModelVersion.ACTIVE, label_map=["billing", "login", "fraud"],
        config={"kind": "final", "encoder_dir": str(missing), "encoder_model_id": f"{model_id()}+ft-no-folder-v2"})
    ids = list(Item.objects.filter(project=project).values_list("pk", flat=True)[:3])
    with pytest.raises(ValueError, match="encoder folder .* is not on this host"):
        scoring.embed_items_for_version(version, ids)
    assert scoring.embed_items_for_version(version, []) == 0  # nothing to encode: no refusal
