from django.apps import AppConfig


class ExportConfig(AppConfig):
    name = "labeling.export"
    label = "export"
