from django.apps import AppConfig

from labeling.annotations.signals import answer_saved


class LoopConfig(AppConfig):
    name = "labeling.loop"
    label = "loop"
    verbose_name = "Active-learning loop"

    def ready(self):
        # Answers drive the loop: a completed wave or every N new labels retrains and replans.
        from labeling.loop import triggers  # Django's rule: models load only once the registry is ready

        answer_saved.connect(triggers.on_answer_saved, dispatch_uid="loop.on_answer_saved", weak=False)
