"""Celery task names after the move to labeling.loop: the new names route to their queues, and a
message queued under an old name (learner.tasks.*, labeling.items.tasks.*) by a running system is
still accepted by the upgraded worker."""
from config.celery import app
from labeling.loop import tasks

OLD_NAMES = ["learner.tasks.run_retrain", "learner.tasks.embed_items", "learner.tasks.embed_project",
             "learner.tasks.train_model", "learner.tasks.score_chunk", "learner.tasks.score_version",
             "learner.tasks.finish_scoring", "learner.tasks.plan_after_retrain", "labeling.items.tasks.import_file"]


def test_old_task_names_are_registered_and_run_the_same_code():
    for old in OLD_NAMES:
        assert old in app.tasks, old
        new = f"labeling.loop.tasks.{old.rsplit('.', 1)[1]}"
        code = [getattr(app.tasks[name], "_orig_run", app.tasks[name].run) for name in (old, new)]
        assert code[0] is code[1], old


def test_embedding_and_training_tasks_route_to_their_queues():
    router = app.amqp.router
    assert router.route({}, tasks.embed_items.name)["queue"].name == "embed"
    assert router.route({}, tasks.train_model.name)["queue"].name == "train"
    assert router.route({}, tasks.plan_after_retrain.name)["queue"].name == "default"
