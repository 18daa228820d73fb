from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "labeling.annotations"
    label = "annotations"
