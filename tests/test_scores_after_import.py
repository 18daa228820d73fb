"""Items imported under an active model get its stored scores from the import's embedding run
(a real Celery worker over Redis, PostgreSQL), without waiting for a retrain: the planner, the item
browser, review routing and the estimates read them (docs/loop.md, "Celery")."""

import pytest

from tests import test_loop_helpers as helpers
from tests.service_processes import fresh_broker, require_postgres, require_redis, run_to_done_with_worker

TEXTS = [f"my card was charged twice {w}" for w in ("amber", "birch", "cedar", "delta", "ember")] + [
    f"cannot log in since {w}" for w in ("fjord", "grove", "harbor", "iris", "juniper")]


@pytest.mark.worker
def test_an_imports_embedding_run_stores_the_active_models_scores(transactional_db, project_factory, tmp_path):
    require_redis()
    require_postgres()
    fresh_broker()
    from labeling.items.models import Item
    from labeling.items.services import import_path
    from labeling.modeling import embedding, scores, versions
    from labeling.modeling.models import ItemScore, TaskRun

    project, _ = helpers.build_project(project_factory, slug="late-items", n_items=120, n_labeled=36)
    version = versions.train_version(project)
    scores.score_version(version)
    versions.activate_version(version)
    before = set(Item.objects.filter(project=project).values_list("id", flat=True))
    assert ItemScore.objects.filter(model_version=version).count() == 120
    # every prediction doubtful and room for all: the new items must reach the review queue
    project.band_low, project.band_high, project.review_share_max = 0.0, 1.0, 1.0
    project.save()

    path = tmp_path / "later.csv"
    path.write_text("text\n" + "\n".join(TEXTS) + "\n", encoding="utf-8")
    import_path(project, path)  # commits; items_imported queues the embedding run
    new = set(Item.objects.filter(project=project).values_list("id", flat=True)) - before
    assert len(new) == 10
    run = TaskRun.objects.get(project=project, kind="embed")
    assert not ItemScore.objects.filter(item_id__in=new).exists()

    log_path = tmp_path / "worker.log"
    run_to_done_with_worker(run, log_path, LONGTAIL_EMBED_CHUNK=4)
    assert embedding.unembedded_item_ids(project) == []
    assert "scoring_error" not in run.detail, run.detail
    # every new item has the active version's stored score, under the version that serves
    stored = ItemScore.objects.filter(model_version=version, item_id__in=new)
    assert stored.count() == 10
    assert all(0.0 < p <= 1.0 for p in stored.values_list("top_prob", flat=True))
    assert ItemScore.objects.filter(model_version=version).count() == 130  # once each, no duplicates
    assert not versions.active_model(project).pk != version.pk  # no retrain ran
    assert "labeling.loop.tasks.embed_items" in log_path.read_text()
    # the review queue was routed again with the grown pool: the doubtful new items are in it
    from labeling.annotations.models import ReviewTask
    queued = set(ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE, resolved_at__isnull=True)
                 .values_list("item_id", flat=True))
    assert new <= queued and "Review queue re-routed" in run.message, run.message
