from django.apps import AppConfig


class ModelingConfig(AppConfig):
    name = "labeling.modeling"
    # The label the app had when it lived in learner/: tables (learner_modelversion, ...) and
    # migration history keep their names, so an existing database migrates with nothing to do.
    label = "learner"
    verbose_name = "Modeling"
