"""A final model that is served runs the label-issue scan, as every activation does (docs/loop.md:
"enqueued beside the planning after each activation"): the open label issues the frozen model's scan
opened are judged again by the serving version, not left stamped with the retired one. Tiny real
fine-tune on CPU, the tasks in-process (eager), PostgreSQL."""
import numpy as np
from rest_framework.test import APIClient

from tests import test_loop_helpers as helpers

eager_celery = helpers.eager_celery
tiny_finetune = helpers.tiny_finetune


def test_a_served_final_model_scans_for_label_issues(db, project_factory, eager_celery, tiny_finetune,
                                                     django_capture_on_commit_callbacks):
    from django.contrib.auth import get_user_model

    from labeling.annotations.models import ReviewTask
    from labeling.items.models import Item
    from labeling.modeling.models import ModelVersion, TaskRun
    from labeling.modeling.versions import active_model

    project, _ = helpers.build_project(project_factory, slug="final-issues", n_items=120, n_labeled=48)
    # the frozen vectors are noise: the fine-tuned encoder wins out of fold and is served
    helpers.noise_frozen_vectors(Item.objects.filter(project=project).values_list("text_hash", flat=True),
                                 np.random.default_rng(3))
    helpers.retrain(project, django_capture_on_commit_callbacks)
    frozen = active_model(project)
    issues = ReviewTask.objects.filter(project=project, reason=ReviewTask.LABEL_ISSUE, resolved_at__isnull=True)
    assert issues.exists() and set(issues.values_list("model_version", flat=True)) == {frozen.number}, (
        "the frozen model's scan opened no label issue: nothing for the final model's scan to judge")

    lead = get_user_model().objects.create_superuser("boss", "b@example.org", "pw-Longtail-123")
    api = APIClient()
    api.force_authenticate(lead)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/api/projects/{project.slug}/models/final/")
    assert answer.status_code == 202, answer.content
    run = TaskRun.objects.get(pk=answer.json()["id"])
    assert run.state == TaskRun.DONE and run.detail["served"] is True, run.message
    final = ModelVersion.objects.get(pk=run.detail["model_version_id"])
    assert final.state == ModelVersion.ACTIVE

    stale = sorted(set(issues.values_list("model_version", flat=True)) - {final.number})
    assert not stale, (f"final model v{final.number} serves, but the open label issues are still those of model "
                       f"v{stale}: no label-issue scan ran after its activation")
