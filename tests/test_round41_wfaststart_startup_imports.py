"""Every process (web, worker, each manage.py command) reads the settings, loads the apps and, for
the web process and the worker, the URLconf and the task modules. None of that may load the heavy
numeric stack: scikit-learn, cleanlab (pandas, pyarrow, datasets), scipy's stats / optimize /
integrate, torch. Before, the settings' fine-tuning options check imported learner.finetune, whose
package imported the distillation fine-tune (scikit-learn), and the review queue's task chain
imported cleanlab at module level: about three seconds of CPU per process start. The libraries are
imported inside the functions that use them; those functions are exercised by their own tests.

A real process: a fresh interpreter, as a worker or gunicorn starts."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sklearn", "cleanlab", "pandas", "pyarrow", "datasets", "scipy.stats", "scipy.optimize", "scipy.integrate",
         "torch", "sentence_transformers", "datasketch")

_START = r"""
import json, sys
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # the web process: every view module
from config.celery import app
app.loader.import_default_modules()  # the worker: every task module
from django.core.management import get_commands, load_command_class
for name, app_name in get_commands().items():
    if not app_name.startswith("django."):
        load_command_class(app_name, name)  # the project's manage.py commands
print(json.dumps(sorted(sys.modules)))
"""


def test_process_start_up_loads_no_heavy_numeric_library():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run([sys.executable, "-c", _START], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "labeling.loop.tasks" in loaded and "config.finetune_options" in loaded  # it did start up
    heavy = sorted(name for name in HEAVY if name in loaded)
    assert heavy == [], f"start-up imported {heavy}"
