"""Longtail's learner: the ML library (numpy / scipy / scikit-learn / torch only; it imports no
Django, Celery or labeling code, so it can be tested, benchmarked and reused alone).

Packages: ``heads`` (classification heads, with THE head registry), ``training`` (fit,
calibrate, thresholds, the trained classifier and its artifact), ``planning`` (wave planning and
THE strategy registry), ``simulation`` (the loop against an oracle). Modules: ``embedding``
(encoder and caches), ``text`` (normalisation and the text hash), ``rules`` (keyword / regex
rules), ``calibration``, ``metrics``, ``splits``, ``thresholds``, ``weighting``, ``scoring``,
``jsonable``. The Django side lives in ``labeling.modeling`` (stores) and ``labeling.loop``
(orchestration); see docs/architecture.md.
"""
