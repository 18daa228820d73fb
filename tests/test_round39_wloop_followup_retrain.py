"""A retrain asked for after the running one read its labels is not lost: it is recorded on the
project, and when the running retrain ends one follow-up retrain runs if the model then serving
lacks anything; the next wave is planned by the follow-up's model. A request while the run still
embeds is in it (nothing recorded); a follow-up whose model already has everything is skipped.

In-process (eager Celery) on PostgreSQL: the answer that completes wave 1 is given from a
post_save receiver on the model version the retrain creates, which is after the retrain read the
training set, the moment a real annotator's answer would land mid-training."""
from django.db.models.signals import post_save

from tests import test_loop_helpers as helpers

eager_celery = helpers.eager_celery


def _build(project_factory, slug):
    return helpers.build_project(project_factory, slug=slug, n_items=90, n_labeled=24, wave_size=6, batch_size=6,
                                 double_label_share=0.0)


def _first_wave(project):
    from labeling.loop.triggers import request_retrain
    from labeling.waves.models import Wave

    run = request_retrain(project)  # commits (transactional_db): runs in-process on commit
    run.refresh_from_db()
    assert run.state == "done", run.message
    return Wave.objects.get(project=project, state=Wave.OPEN)


def test_a_wave_completed_while_a_retrain_trains_gets_one_follow_up_that_plans_the_next_wave(
        transactional_db, project_factory, eager_celery):
    from labeling.items.models import Item
    from labeling.loop.triggers import FOLLOWUP_SAID, request_retrain
    from labeling.modeling import selectors, versions
    from labeling.modeling.models import ModelVersion, TaskRun
    from labeling.projects.models import Project
    from labeling.waves.models import Wave, WaveItem

    project, truth = _build(project_factory, "followup")
    wave1 = _first_wave(project)
    labels = {label.name: label for label in project.labels.all()}
    picks = list(WaveItem.objects.filter(wave=wave1).select_related("item").order_by("pk"))
    for pick in picks[:-1]:
        helpers.answer(project, pick.item, labels[truth[pick.item_id]])
    last = Item.objects.get(pk=picks[-1].item_id)
    answers = {}

    def answer_while_training(sender, instance, created, **kwargs):
        if created and instance.number == 2:
            run = TaskRun.objects.get(pk=instance.config["task_run"])
            assert run.detail["stage"] == "train"
            helpers.answer(project, last, labels[truth[last.pk]])  # wave 1 completes and asks to retrain
            answers["asked"] = Project.objects.get(pk=project.pk).retrain_followup
            answers["message"] = TaskRun.objects.get(pk=run.pk).message

    post_save.connect(answer_while_training, sender=ModelVersion, dispatch_uid="wloop-answer-while-training")
    try:
        manual = request_retrain(project, reason="manual")
    finally:
        post_save.disconnect(dispatch_uid="wloop-answer-while-training", sender=ModelVersion)

    assert answers["asked"]["after"] == manual.pk and answers["asked"]["reasons"] == ["wave_complete"], answers
    assert FOLLOWUP_SAID in answers["message"], answers
    wave1.refresh_from_db()
    assert wave1.state == Wave.CLOSED
    runs = list(TaskRun.objects.filter(project=project, kind="retrain").order_by("pk"))
    assert len(runs) == 3, [(r.pk, r.state, r.message) for r in runs]  # the first, the manual one, one follow-up
    manual, followup = runs[1], runs[2]
    assert manual.state == followup.state == "done", [(r.pk, r.message) for r in runs]
    assert f"follow-up retrain queued as task {followup.pk}" in manual.message, manual.message
    assert "a wave completed" in manual.message and "wave 2" not in manual.message, manual.message
    assert followup.detail["reason"] == "wave_complete" and followup.detail["follow_up_of"] == manual.pk
    assert manual.detail["follow_up"] == followup.pk
    # The manual run's model (v2) missed the last answer; the follow-up's (v3) has it and planned wave 2.
    v2 = ModelVersion.objects.get(project=project, number=2)
    v3 = versions.active_model(project)
    now = versions.labels_digest(project, selectors.training_set(project))
    assert v3.number == 3 and v3.config["labels_digest"] == now != v2.config["labels_digest"]
    wave2 = Wave.objects.get(project=project, number=2)
    assert wave2.state == Wave.OPEN and wave2.model_version_id == v3.pk, (wave2.state, wave2.model_version_id)
    assert "wave 2 opened" in followup.message, followup.message
    assert Project.objects.get(pk=project.pk).retrain_followup == {}


def test_a_request_while_the_retrain_embeds_is_in_it_and_a_follow_up_with_nothing_new_is_skipped(
        transactional_db, project_factory, eager_celery):
    from labeling.loop import pipeline
    from labeling.loop.runs import update_run
    from labeling.loop.triggers import FOLLOWUP_SAID, request_retrain
    from labeling.modeling.models import TaskRun
    from labeling.projects.models import Project
    from labeling.waves.models import Wave

    project, _ = _build(project_factory, "nofollow")
    _first_wave(project)
    # A retrain queued but not sent (as while its message waits for a worker), then embedding.
    run = TaskRun.objects.create(project=project, kind="retrain", detail={"reason": "manual", "stage": "queued"})
    update_run(run.pk, state=TaskRun.RUNNING, stage="embed", message="Embedding new items.")
    assert request_retrain(project, reason="manual").pk == run.pk
    assert Project.objects.get(pk=project.pk).retrain_followup == {}  # it has not read the labels yet

    # Past its label read, a request is recorded and the answer says so.
    update_run(run.pk, stage="train", message="Training.")
    answered = request_retrain(project, reason="manual")
    assert answered.pk == run.pk and FOLLOWUP_SAID in answered.message, answered.message
    assert Project.objects.get(pk=project.pk).retrain_followup["reasons"] == ["manual"]
    # The model serving (v1) already learned the labels and settings as they are: no follow-up.
    update_run(run.pk, stage="plan")
    pipeline.finish_retrain(TaskRun.objects.select_related("project").get(pk=run.pk))
    run.refresh_from_db()
    assert run.state == "done" and "follow-up" not in run.message, run.message
    assert "a wave is already open" in run.message, run.message
    assert TaskRun.objects.filter(project=project, kind="retrain").count() == 2
    assert Project.objects.get(pk=project.pk).retrain_followup == {}
    assert Wave.objects.filter(project=project, state=Wave.OPEN).count() == 1
