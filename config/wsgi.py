import os

from django.core.wsgi import get_wsgi_application

from config.env import setting_errors_end_the_process

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# gunicorn's exit status for an application that cannot load: its master then stops ("App failed to
# load.") instead of starting worker after worker. A refused setting prints its one line, no traceback
# (in each worker, and in `gunicorn --check-config`, which loads the app in the master).
APP_LOAD_ERROR = 4
with setting_errors_end_the_process(exit_status=APP_LOAD_ERROR):
    application = get_wsgi_application()

# Models load once Django is set up (above); gunicorn's post_worker_init calls this per worker.
from labeling.modeling.warmup import warm_up  # noqa: E402

__all__ = ["application", "warm_up"]
