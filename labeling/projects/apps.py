from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "labeling.projects"
    label = "projects"

    def ready(self):
        # Connects the receiver that ends a user's API tokens when their password changes, in every
        # process (web, workers, manage.py changepassword), not only once DRF has loaded auth.
        from . import auth  # noqa: F401
