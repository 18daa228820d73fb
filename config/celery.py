"""Celery application. Broker and backend come from REDIS_URL; with no broker configured
(the demo), tasks run eagerly in-process (see config.settings)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

app = Celery("longtail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
