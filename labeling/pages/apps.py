from django.apps import AppConfig


class PagesConfig(AppConfig):
    name = "labeling.pages"
    label = "pages"
