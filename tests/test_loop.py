"""The loop end to end in eager mode: scores, review routing, waves (cold start, batches,
overlap, budget), triggers from answers, idempotent tasks, one retrain at a time."""
import math

import numpy as np
import pytest

from tests import test_loop_helpers as helpers
from tests.test_loop_helpers import answer, build_project

# Shared fixtures, bound here so pytest finds them.
eager_celery = helpers.eager_celery
loop_project = helpers.loop_project
retrain = helpers.retrain



def test_scores_are_float16_rows_that_sum_to_one(loop_project, django_capture_on_commit_callbacks):
    from labeling.modeling.models import ItemScore
    from labeling.modeling.versions import active_model
    from learner.scoring import unpack_probs

    project, _ = loop_project
    retrain(project, django_capture_on_commit_callbacks)
    version = active_model(project)
    rows = list(ItemScore.objects.filter(model_version=version))
    assert len(rows) == 300
    k = len(version.label_map)
    for row in rows:
        assert len(bytes(row.probs)) == 2 * k  # float16
        probs = unpack_probs(row.probs, k)
        assert probs.sum() == pytest.approx(1.0, abs=5e-3)
        assert int(np.argmax(probs)) == row.top_label or probs.max() - probs[row.top_label] < 2e-3
        assert row.top_prob == pytest.approx(float(probs.max()), abs=2e-3)
        assert 0 <= row.margin <= row.top_prob + 1e-6 and row.entropy >= 0


def test_rescoring_the_same_version_does_not_duplicate(loop_project, django_capture_on_commit_callbacks):
    from labeling.loop import tasks
    from labeling.modeling.models import ItemScore
    from labeling.modeling.scores import score_chunks
    from labeling.modeling.versions import active_model

    project, _ = loop_project
    retrain(project, django_capture_on_commit_callbacks)
    version = active_model(project)
    before = dict(ItemScore.objects.filter(model_version=version).values_list("item_id", "top_prob"))
    tasks.score_version.delay(version.id)
    lo, hi = score_chunks(project, chunk_size=100)[1]
    tasks.score_chunk.delay(version.id, lo, hi)
    after = dict(ItemScore.objects.filter(model_version=version).values_list("item_id", "top_prob"))
    assert after == before


def test_embedding_task_is_idempotent(loop_project):
    from labeling.items.models import Item
    from labeling.loop import tasks
    from labeling.modeling.models import Embedding
    from learner.text import text_hash

    project, _ = loop_project
    ids = list(Item.objects.filter(project=project).values_list("id", flat=True)[:50])
    count = Embedding.objects.count()
    assert tasks.embed_items.delay(ids).get() == 0  # everything cached: nothing encoded
    assert Embedding.objects.count() == count
    assert text_hash("x") not in set(Embedding.objects.values_list("text_hash", flat=True))


def test_low_confidence_predictions_go_to_review_within_the_share(loop_project, django_capture_on_commit_callbacks):
    from labeling.annotations.models import ReviewTask
    from labeling.annotations.selectors import resolve_item_labels
    from labeling.modeling.models import ItemScore
    from labeling.modeling.review import route_low_confidence
    from labeling.modeling.versions import active_model

    project, _ = loop_project
    retrain(project, django_capture_on_commit_callbacks)
    version = active_model(project)
    labeled = set(resolve_item_labels(project))
    unlabeled = 300 - len(labeled)
    tasks = ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE)
    assert tasks.count() <= math.floor(project.review_share_max * unlabeled)
    routed = set(tasks.values_list("item_id", flat=True))
    assert not labeled & routed
    # Only doubtful predictions (inside the band, or below their label's threshold) are routed,
    # the least confident first.
    rows = {i: (version.label_map[t], p) for i, t, p in
            ItemScore.objects.filter(model_version=version).values_list("item_id", "top_label", "top_prob")}

    def doubtful(item_id):
        name, p = rows[item_id]
        return project.band_low <= p <= project.band_high or p < float(version.thresholds.get(name) or 0)

    assert all(doubtful(i) for i in routed)
    if routed:
        worst_kept = max(rows[i][1] for i in routed)
        left = [i for i in rows if i not in labeled and i not in routed and doubtful(i)]
        assert all(rows[i][1] >= worst_kept - 1e-9 for i in left)
    # Routing again (same version) adds nothing: the cap counts open tasks.
    assert route_low_confidence(version) == 0


def test_cold_start_first_wave_is_open_with_batches_and_overlap(db, project_factory, eager_celery):
    from labeling.loop.pipeline import plan_first_wave
    from labeling.waves.models import Wave, WaveItem
    from labeling.waves.selectors import wave_composition

    project, _ = build_project(project_factory, slug="cold", n_labeled=0, wave_size=100, batch_size=20,
                               double_label_share=0.1, overlap=2)
    wave = plan_first_wave(project)
    assert wave.state == Wave.OPEN and wave.cold_start and wave.model_version is None
    picks = list(WaveItem.objects.filter(wave=wave))
    assert len(picks) == wave.size == 100
    assert sum(p.overlap == 2 for p in picks) == 10 and all(p.overlap in (1, 2) for p in picks)
    batches = {}
    for p in picks:
        batches.setdefault(p.batch_number, []).append(p.position)
    assert len(batches) == 5 and all(sorted(pos) == list(range(20)) for pos in batches.values())
    composition = wave_composition(wave)
    assert composition["size"] == 100 and sum(c["count"] for c in composition["cells"]) == 100
    assert set(composition["by_source"]) == {"email", "chat"}
    assert plan_first_wave(project).pk == wave.pk  # idempotent: the open wave is returned


def test_planned_wave_spreads_likely_rare_items_over_batches(loop_project, django_capture_on_commit_callbacks):
    from labeling.waves.models import Wave

    project, _ = loop_project
    project.wave_size, project.batch_size = 120, 20
    project.save()
    retrain(project, django_capture_on_commit_callbacks)
    wave = Wave.objects.get(project=project, state=Wave.OPEN)
    assert not wave.cold_start and wave.model_version is not None
    per_batch = {}
    for batch, rare in wave.picks.values_list("batch_number", "likely_rare"):
        per_batch[batch] = per_batch.get(batch, 0) + rare
    total_rare = sum(per_batch.values())
    assert total_rare > 0
    if total_rare >= len(per_batch):
        assert all(n >= 1 for n in per_batch.values())
    # Equal batches (120 = 6 × 20): likely-rare items are dealt round-robin, so counts differ by ≤ 1.
    assert max(per_batch.values()) - min(per_batch.values()) <= 1


def test_budget_shrinks_waves_and_says_when_spent(db, project_factory, eager_celery):
    from labeling.waves.selectors import budget_status
    from labeling.waves.services import BudgetSpent, close_wave, open_wave, plan_next_wave

    project, _ = build_project(project_factory, slug="budget", n_labeled=0, wave_size=100, label_budget=30,
                               double_label_share=0.0)
    assert budget_status(project) == {"budget": 30, "used": 0, "committed": 0, "free": 30, "left": 30, "spent": False}
    wave = open_wave(plan_next_wave(project))
    assert wave.size == 30
    # Everything left is committed to the open wave.
    with pytest.raises(BudgetSpent):
        plan_next_wave(project)
    items = [p.item for p in wave.picks.select_related("item")]
    label = project.labels.first()
    for item in items[:30]:
        answer(project, item, label)
    status = budget_status(project)
    assert status == {"budget": 30, "used": 30, "committed": 0, "free": 0, "left": 0, "spent": True}
    close_wave(wave)
    with pytest.raises(BudgetSpent, match="budget of 30 is spent"):
        plan_next_wave(project)


def test_budget_counts_double_labels(db, project_factory, eager_celery):
    from labeling.waves.services import plan_next_wave

    project, _ = build_project(project_factory, slug="budget2", n_labeled=0, wave_size=100, label_budget=55,
                               double_label_share=0.1, overlap=2)
    wave = plan_next_wave(project)
    needed = sum(wave.picks.values_list("overlap", flat=True))
    assert needed <= 55 and wave.size == 50


def test_completing_a_wave_by_answers_plans_the_next_one(db, project_factory, eager_celery,
                                                         django_capture_on_commit_callbacks, make_user):
    from labeling.loop.pipeline import plan_first_wave
    from labeling.modeling.models import ModelVersion, TaskRun
    from labeling.waves.models import Wave

    project, truth = build_project(project_factory, slug="trigger", n_labeled=0, wave_size=40, batch_size=10,
                                   double_label_share=0.1, overlap=2)
    first = plan_first_wave(project)
    labels = {label.name: label for label in project.labels.all()}
    alice, bob = make_user("alice"), make_user("bob")
    picks = list(first.picks.select_related("item"))
    with django_capture_on_commit_callbacks(execute=True):
        for n, pick in enumerate(picks):
            answer(project, pick.item, labels[truth[pick.item_id]], alice, skipped=(n == 0))
        # Single-labeled items are done; the wave waits for the second answers.
        assert Wave.objects.get(pk=first.pk).state == Wave.OPEN
        assert not TaskRun.objects.filter(project=project, kind="retrain").exists()
        for pick in [p for p in picks if p.overlap == 2]:
            answer(project, pick.item, labels[truth[pick.item_id]], bob)
    first.refresh_from_db()
    assert first.state == Wave.CLOSED
    run = TaskRun.objects.get(project=project, kind="retrain")
    assert run.state == TaskRun.DONE and run.detail["reason"] == "wave_complete", run.message
    assert ModelVersion.objects.get(project=project).state == ModelVersion.ACTIVE
    second = Wave.objects.get(project=project, state=Wave.OPEN)
    assert second.number == 2 and not second.cold_start
    assert not set(second.picks.values_list("item_id", flat=True)) & {p.item_id for p in picks}


def test_retrain_every_n_labels(db, project_factory, eager_celery, django_capture_on_commit_callbacks):
    from labeling.loop.pipeline import plan_first_wave
    from labeling.modeling.models import ModelVersion, TaskRun

    project, truth = build_project(project_factory, slug="every", n_labeled=0, wave_size=60, retrain_every=15,
                                   double_label_share=0.0)
    wave = plan_first_wave(project)
    labels = {label.name: label for label in project.labels.all()}
    picks = list(wave.picks.select_related("item"))
    # Make sure the first labels cover at least two labels so training can happen.
    picks.sort(key=lambda p: truth[p.item_id] != "fraud")

    def give(pick):  # one request = one transaction, as on the annotation page
        with django_capture_on_commit_callbacks(execute=True):
            answer(project, pick.item, labels[truth[pick.item_id]])

    for pick in picks[:14]:
        give(pick)
    assert not TaskRun.objects.filter(project=project, kind="retrain").exists()
    give(picks[14])
    assert TaskRun.objects.filter(project=project, kind="retrain").count() == 1
    for pick in picks[15:29]:
        give(pick)
    assert TaskRun.objects.filter(project=project, kind="retrain").count() == 1
    give(picks[29])
    runs = TaskRun.objects.filter(project=project, kind="retrain")
    assert runs.count() == 2 and {r.detail["reason"] for r in runs} == {"retrain_every"}
    if len({truth[p.item_id] for p in picks[:15]}) >= 2:
        assert ModelVersion.objects.filter(project=project, state=ModelVersion.ACTIVE).exists()
    # The open wave is kept: retraining mid-wave does not replace it.
    assert wave.picks.count() == 60 and project.waves.count() == 1


def test_second_request_while_one_is_pending_returns_it(loop_project, django_capture_on_commit_callbacks):
    from labeling.loop.triggers import request_retrain
    from labeling.modeling.models import TaskRun

    project, _ = loop_project
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = request_retrain(project)
        second = request_retrain(project, reason="wave_complete")
    assert first.pk == second.pk and len(callbacks) == 1
    assert TaskRun.objects.filter(project=project, kind="retrain").count() == 1


def test_labeled_counts_and_composition(loop_project, django_capture_on_commit_callbacks):
    from labeling.projects.dashboard import labeled_per_wave
    from labeling.waves.selectors import current_wave, wave_composition

    project, _ = loop_project
    # the dashboard's per-label totals (what rare status reads): every labeled item once
    _, counts = labeled_per_wave(project, dict(project.labels.values_list("id", "name")))
    assert set(counts) == {"billing", "login", "fraud"} and sum(counts.values()) == 60
    retrain(project, django_capture_on_commit_callbacks)
    wave = current_wave(project)
    comp = wave_composition(wave)
    assert comp["size"] == wave.size == sum(comp["by_strategy"].values())
    assert set(comp["by_predicted_label"]) <= {"billing", "login", "fraud"}


def test_task_api(loop_project, django_capture_on_commit_callbacks, make_user, client):
    from labeling.projects.models import Membership

    project, _ = loop_project
    run = retrain(project, django_capture_on_commit_callbacks)
    member, stranger = make_user("member"), make_user("stranger")
    Membership.objects.create(user=member, project=project, role=Membership.ANNOTATOR)
    client.force_login(member)
    listing = client.get(f"/api/projects/{project.slug}/tasks/").json()
    assert listing["results"][0]["id"] == run.id and listing["results"][0]["state"] == "done"
    detail = client.get(f"/api/tasks/{run.id}/").json()
    assert detail["progress"] == 1.0 and detail["kind"] == "retrain" and detail["project"] == project.slug
    client.force_login(stranger)
    assert client.get(f"/api/tasks/{run.id}/").status_code == 404
    assert client.get(f"/api/projects/{project.slug}/tasks/").status_code == 404
    client.logout()
    assert client.get(f"/api/tasks/{run.id}/").status_code in (401, 403)


def test_labels_given_while_the_broker_was_down_still_count_toward_retrain_every(
        db, project_factory, eager_celery, django_capture_on_commit_callbacks):
    """A retrain that could not be queued trained nothing: the labels since the last retrain
    that was queued count (it reset the count, so 3 labels in the outage and 2 after it started
    nothing with retrain_every 3)."""
    from labeling.loop.pipeline import plan_first_wave
    from labeling.modeling.models import TaskRun

    project, truth = build_project(project_factory, slug="outage", n_labeled=0, wave_size=60, retrain_every=3,
                                   double_label_share=0.0)
    wave = plan_first_wave(project)
    labels = {label.name: label for label in project.labels.all()}
    picks = list(wave.picks.select_related("item"))
    from datetime import timedelta

    from django.utils import timezone

    for pick in picks[:2]:
        answer(project, pick.item, labels[truth[pick.item_id]])  # on_commit not run: nothing queued yet
    refused = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.FAILED,
                                     message="Could not queue the work (is the broker up?): OperationalError",
                                     detail={"reason": "retrain_every", "queue_error": True})
    retrains = TaskRun.objects.filter(project=project, kind="retrain")
    # a moment after the broker refused one, answers do not each try again (one failed run per answer)
    for pick in picks[2:5]:
        with django_capture_on_commit_callbacks(execute=True):
            answer(project, pick.item, labels[truth[pick.item_id]])
    assert retrains.count() == 1
    TaskRun.objects.filter(pk=refused.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        answer(project, picks[5].item, labels[truth[picks[5].item_id]])
    queued = retrains.exclude(detail__has_key="queue_error")
    assert queued.count() == 1 and queued.get().detail["reason"] == "retrain_every"
