"""THE registry of selection strategies: name → ``Strategy`` (its candidate generator, whether
it serves the cold start, whether leads may set it). The planner, the project settings and the
simulation all read this one table.

Adding a strategy: write a module here with ``candidates(request: StrategyRequest) ->
CandidateList`` and a ``STRATEGY = Strategy(...)`` record, then add one line below. The order of
the lines is the order in which strategies take turns inside a wave.

The random slice and the uniform fill are not strategies: the planner draws them itself, with
exact inclusion probabilities.
"""
from __future__ import annotations

from learner.planning.strategies import band, diversity, label_names, rare, rules, uncertainty
from learner.planning.strategies.base import CandidateList, SelectionContext, Strategy, StrategyRequest

STRATEGIES: dict[str, Strategy] = {s.name: s for s in (
    rules.STRATEGY,
    rare.STRATEGY,
    label_names.STRATEGY,
    uncertainty.STRATEGY,
    band.STRATEGY,
    diversity.STRATEGY,
)}

__all__ = ["STRATEGIES", "CandidateList", "SelectionContext", "Strategy", "StrategyRequest",
           "lead_settable", "strategy"]


def strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}") from None


def lead_settable() -> list[str]:
    """The strategies a lead may give a share of the project's mix, in turn order."""
    return [name for name, s in STRATEGIES.items() if s.lead_settable]
