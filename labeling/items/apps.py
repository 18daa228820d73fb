from django.apps import AppConfig


class ItemsConfig(AppConfig):
    name = "labeling.items"
    label = "items"
