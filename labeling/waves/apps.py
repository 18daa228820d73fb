from django.apps import AppConfig


class WavesConfig(AppConfig):
    name = "labeling.waves"
    label = "waves"
