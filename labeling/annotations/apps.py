from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save, pre_delete


class AnnotationsConfig(AppConfig):
    name = "labeling.annotations"
    label = "annotations"

    def ready(self):
        # A deleted user's unanswered leases give their slots back first, whatever deletes the user
        # (their answered assignments stay, SET_NULL); a user saved inactive gives theirs back too.
        from .release import user_deleted, user_saved

        pre_delete.connect(user_deleted, sender=settings.AUTH_USER_MODEL, dispatch_uid="annotations.user_deleted")
        post_save.connect(user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="annotations.user_saved")
