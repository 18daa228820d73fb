from celery.signals import worker_ready
from django.apps import AppConfig
from django.core import checks

from labeling.annotations.signals import answer_saved
from labeling.items.signals import items_imported, picks_withdrawn
from labeling.loop.checks import time_limits


class LoopConfig(AppConfig):
    name = "labeling.loop"
    label = "loop"
    verbose_name = "Active-learning loop"

    def ready(self):
        # Answers drive the loop: a completed wave or every N new labels retrains and replans.
        # Django's rule: models load only once the registry is ready. replanning's task, beside .tasks,
        # registers with the workers by this import.
        from labeling.loop import reactions, replanning, triggers  # noqa: F401

        # Time limits that would fail live runs are refused before the site or a migration starts.
        checks.register(time_limits)

        answer_saved.connect(reactions.on_answer_saved, dispatch_uid="loop.on_answer_saved", weak=False)
        picks_withdrawn.connect(reactions.on_picks_withdrawn, dispatch_uid="loop.on_picks_withdrawn", weak=False)
        # Imports queue their items' embedding (chunked tasks on the embed queue).
        items_imported.connect(triggers.on_items_imported, dispatch_uid="loop.on_items_imported", weak=False)
        # A starting worker fails and re-queues the runs a dead worker left, then keeps watching.
        worker_ready.connect(triggers.on_worker_ready, dispatch_uid="loop.on_worker_ready", weak=False)
