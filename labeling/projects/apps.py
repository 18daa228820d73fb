from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "labeling.projects"
    label = "projects"
