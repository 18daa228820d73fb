"""Warm a web process before it takes requests: load the encoder (the backend check included) and
encode once, and load the active models' classifiers, so the first predict does not pay for them.
gunicorn calls this once per worker (config/gunicorn.conf.py, post_worker_init)."""
from __future__ import annotations

import logging
import time

from .embedding import encoder
from .models import ModelVersion
from .versions import load_classifier

log = logging.getLogger(__name__)


def warm_up(*, models: bool = True) -> dict:
    """Returns what was loaded and how long it took (seconds)."""
    started = time.perf_counter()
    encoder().encode(["warm-up"])
    timings = {"encoder_s": round(time.perf_counter() - started, 3), "models": 0}
    if models:
        t = time.perf_counter()
        for version in ModelVersion.objects.filter(state=ModelVersion.ACTIVE):
            try:
                load_classifier(version)
                timings["models"] += 1
            except Exception:  # noqa: BLE001 - a model that cannot load fails its own predicts, not the worker
                log.warning("could not preload model version %s", version.pk, exc_info=True)
        timings["models_s"] = round(time.perf_counter() - t, 3)
    log.info("warmed up in %.2f s: %s", time.perf_counter() - started, timings)
    return timings
