import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Models load once Django is set up (above); gunicorn's post_worker_init calls this per worker.
from labeling.modeling.warmup import warm_up  # noqa: E402

__all__ = ["application", "warm_up"]
