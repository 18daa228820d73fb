"""README: "`LONGTAIL_SELF_TRAINING_ROWS` | 20,000 | unlabeled items (a seeded sample) each retrain may
pseudo-label from its surest predictions; 0 turns self-training off". docs/estimates.md: the default
threshold mix "pool" is estimated "from the unlabeled sample the retrain already draws
(self-training's, up to LONGTAIL_SELF_TRAINING_ROWS; drawn for this even with self-training off)".
The same number is the sample's size (labeling.modeling.versions.unlabeled_items), so setting it to
0 does more than turn self-training off: no unlabeled row is drawn, and every retrain's per-label
thresholds silently fall back from the pool's mix (the project's setting, the default) to the
labeled items' mix (and the final model distils on no unlabeled item: labeling/modeling/final.py)."""
import pytest

from labeling.modeling.versions import active_model

from . import test_loop_helpers as helpers

eager_celery = helpers.eager_celery
pytestmark = pytest.mark.django_db


def test_turning_self_training_off_keeps_the_pool_mix(eager_celery, project_factory, settings,
                                                      django_capture_on_commit_callbacks):
    settings.LONGTAIL_SELF_TRAINING_ROWS = 0  # "0 turns self-training off"
    project, _ = helpers.build_project(project_factory, slug="noself", n_items=300, n_labeled=60, seed=4,
                                        wave_size=20)
    assert project.threshold_mix == "pool"
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    mix = active_model(project).metrics["threshold_mix"]
    # today: {"setting": "pool", "used": "labeled", "reason": "...unlabeled rows...", ...}
    assert mix["used"] == "pool", mix
    # ... and self-training is off, as the setting says
    assert not (active_model(project).metrics.get("self_training") or {}).get("pseudo_rows"), \
        active_model(project).metrics.get("self_training")
