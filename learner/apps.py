from django.apps import AppConfig


class LearnerConfig(AppConfig):
    name = "learner"
    label = "learner"

    def ready(self):
        # Answers drive the loop: a completed wave or every N new labels retrains and replans.
        from labeling.annotations.signals import answer_saved

        from .services import on_answer_saved

        answer_saved.connect(on_answer_saved, dispatch_uid="learner.on_answer_saved", weak=False)
