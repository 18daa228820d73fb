"""Longtail's learner.

The ML core (embedding, heads, splits, calibration, thresholds, hierarchy, long tail, metrics,
selection, planning) is plain numpy / scikit-learn / torch and imports nothing from Django, so it
can be tested and benchmarked alone. The Django glue is confined to ``apps``, ``models``,
``admin``, ``services``, ``tasks``, ``management`` and ``migrations``.
"""
