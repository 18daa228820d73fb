"""Signals between the labeling side and the learner, so neither imports the other's internals.

``answer_saved`` is sent after an annotation is stored (or undone) with ``project`` and ``item``
(and, for a new answer, ``wave_item``: its pick, slot counts as the answer left them);
the learner listens to count new labels, detect wave completion and trigger retraining.
"""
from django.dispatch import Signal

answer_saved = Signal()
