"""A fine label implies its coarse label (labeling/annotations/models.py: "a fine label implies its
parent (coarse) label"; a coarse label is the answer for "coarse only"). The planner's label counts
(labeling.waves.pool.planner_snapshot → labeled_y → PoolSnapshot.label_counts) count each item under
its exact label only, so a coarse label whose items were all answered at the fine level counts 0:
the rare strategy treats it as a label nobody has labeled, spends picks "near its name" every wave,
and writes a reason that is false: "rare label account (none labeled)" with dozens labeled under it.
Seen on the live stack too (trec, wave 2: "rare label DESC (none labeled): near its name" beside 10
items labeled DESC > def / manner; 5 of 40 picks went to the coarse names)."""
import numpy as np
import pytest
from django.conf import settings

from labeling.modeling.models import Embedding
from labeling.projects.models import Label
from labeling.waves.models import WaveItem
from learner.text import exact_text_hash

from . import test_loop_helpers as helpers

eager_celery = helpers.eager_celery
pytestmark = pytest.mark.django_db


def test_a_coarse_label_with_labeled_fine_labels_is_not_planned_as_never_labeled(
        eager_celery, project_factory, django_capture_on_commit_callbacks):
    project, _ = helpers.build_project(project_factory, slug="coarse", n_labeled=60, seed=3, wave_size=30,
                                        rare_threshold=500, strategy_mix={"rare": 0.9}, random_share=0.1)
    account = Label.objects.create(project=project, name="account", hotkey="9", order=0)
    Label.objects.filter(project=project, name__in=["login", "fraud"]).update(parent=account)
    vector = helpers.unit(np.random.default_rng(9), 1)[0]
    Embedding.objects.create(model_id=settings.LONGTAIL_MODEL_ID, text_hash=exact_text_hash(helpers.label_text(account)),
                             vector=vector.tobytes())
    under_account = project.annotations.filter(label__parent=account).values("item_id").distinct().count()
    assert under_account >= 8

    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    reasons = list(WaveItem.objects.filter(wave__project=project, strategy="rare").values_list("reason", flat=True))
    assert reasons
    # today: e.g. "rare label account (none labeled): near its name (cos …)"
    assert not [r for r in reasons if r.startswith("rare label account (none labeled)")], reasons
