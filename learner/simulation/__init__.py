"""Active-learning simulation with the product's planner and learner and an oracle.

Modules: ``data`` (the dataset and its splits), ``presets`` (``--strategy`` presets and
SimConfig), ``pool`` (one simulated wave planned and one model retrained as the product does),
``run`` (the loop), ``report`` (summaries and the curve).
"""
from learner.simulation.data import DataError, Dataset, check_embeddings, humanise, load_jsonl
from learner.simulation.presets import PRESETS, SimConfig, planner_options_problem
from learner.simulation.report import draw_curve, summarise, summary_markdown
from learner.simulation.run import run_simulation

__all__ = ["PRESETS", "DataError", "Dataset", "SimConfig", "check_embeddings", "draw_curve", "humanise",
           "load_jsonl", "planner_options_problem", "run_simulation", "summarise", "summary_markdown"]
