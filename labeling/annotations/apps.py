from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import pre_delete


class AnnotationsConfig(AppConfig):
    name = "labeling.annotations"
    label = "annotations"

    def ready(self):
        # A deleted user's assignments go with them (CASCADE): their wave items' slot counts are
        # given back first, whatever deletes the user.
        from .release import user_deleted

        pre_delete.connect(user_deleted, sender=settings.AUTH_USER_MODEL, dispatch_uid="annotations.user_deleted")
