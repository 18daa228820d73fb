"""``score_new_items`` (called by the import's embedding run) scores the items that have no score
under the active version, and only those: items of the project that had one keep their rows."""
import numpy as np

from tests import test_loop_helpers as helpers

eager_celery = helpers.eager_celery
loop_project = helpers.loop_project


def test_only_items_without_a_score_are_scored(loop_project, django_capture_on_commit_callbacks):
    from labeling.items.scoring import score_new_items
    from labeling.modeling.models import ItemScore
    from labeling.modeling.versions import active_model

    project, _ = loop_project
    helpers.retrain(project, django_capture_on_commit_callbacks)
    version = active_model(project)
    rows = dict(ItemScore.objects.filter(model_version=version).values_list("item_id", "pk"))
    ids = sorted(rows)
    first, last = ids[0], ids[-1]  # the pool's oldest and newest item: their id range is the whole pool
    lost = {i: ItemScore.objects.get(pk=rows[i]) for i in (first, last)}
    ItemScore.objects.filter(pk__in=[rows[first], rows[last]]).delete()

    assert score_new_items(project, [first, last, ids[5]]) == 2  # ids[5] has its score
    after = dict(ItemScore.objects.filter(model_version=version).values_list("item_id", "pk"))
    assert sorted(after) == ids
    kept = {i for i in ids if i not in (first, last)}
    assert all(after[i] == rows[i] for i in kept)  # not rewritten
    for i, old in lost.items():  # the same scores as the pool's scoring gave them
        new = ItemScore.objects.get(pk=after[i])
        assert new.top_label == old.top_label and np.isclose(new.top_prob, old.top_prob, atol=1e-3)
    assert score_new_items(project, [first, last]) == 0
