"""Wave planning: a pure function from a snapshot of the pool to a wave.

``plan_wave(snapshot, config, seed)`` → ``WavePlan``; ``cut_batches`` deals a wave into annotator
batches. Modules: ``config`` (PlannerConfig, default mixes), ``snapshot`` (the input and the
helpers that build it), ``strategies`` (THE registry of selection strategies), ``quotas``
(integer shares by mix and by source), ``builder`` (one wave being filled), ``plan`` (the
planner), ``batches``.
"""
from learner.planning.batches import cut_batches
from learner.planning.builder import Pick, WavePlan
from learner.planning.config import DEFAULT_COLD_START_MIX, DEFAULT_MIX, FILL, RANDOM, PlannerConfig
from learner.planning.plan import plan_to_dict, plan_wave
from learner.planning.snapshot import PoolSnapshot, duplicate_groups, label_texts, project_proba

__all__ = ["DEFAULT_COLD_START_MIX", "DEFAULT_MIX", "FILL", "RANDOM", "Pick", "PlannerConfig", "PoolSnapshot",
           "WavePlan", "cut_batches", "duplicate_groups", "label_texts", "plan_to_dict", "plan_wave",
           "project_proba"]
