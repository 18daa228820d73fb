"""Celery application. Broker and backend come from REDIS_URL; with no broker configured
(the demo), tasks run eagerly in-process (see config.settings)."""
import os

from celery import Celery
from django.conf import settings

from config.env import setting_errors_end_the_process

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

app = Celery("longtail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_configure.connect
def load_django_settings_first(sender, **kwargs):
    """Celery reads Django's settings when it first needs its configuration (a worker: while it
    parses its command line), just after this signal. Loading them here first means a refused
    setting ends `celery worker` with its one-line message, not a traceback through click."""
    with setting_errors_end_the_process():
        settings.INSTALLED_APPS  # noqa: B018 - the first read imports the settings module
