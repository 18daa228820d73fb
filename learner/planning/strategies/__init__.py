"""THE registry of selection strategies: name → ``Strategy`` (its candidate generator, whether
it serves the cold start, whether leads may set it). The planner, the project settings and the
simulation all read this one table.

A strategy either draws (a probability sample with known inclusion probabilities, see
learner.planning.draws) or ranks. Adding one: write a module here with ``draw(request:
DrawRequest) -> DrawPlan`` or ``candidates(request: StrategyRequest) -> CandidateList`` and a
``STRATEGY = Strategy(...)`` record, then add one line below. Draws run first, in the order of
the lines; ranked strategies then take turns, in the order of the lines.

The random slice and the uniform fill are not strategies: the planner draws them itself.
"""
from __future__ import annotations

from learner.planning.strategies import band, diversity, label_names, rare, rules, uncertainty
from learner.planning.strategies.base import (
    CandidateList,
    DrawRequest,
    SelectionContext,
    Strategy,
    StrategyRequest,
)

STRATEGIES: dict[str, Strategy] = {s.name: s for s in (
    rules.STRATEGY,
    rare.STRATEGY,
    label_names.STRATEGY,
    uncertainty.STRATEGY,
    band.STRATEGY,
    diversity.STRATEGY,
    uncertainty.SAMPLED_STRATEGY,
)}

__all__ = ["STRATEGIES", "CandidateList", "DrawRequest", "SelectionContext", "Strategy", "StrategyRequest",
           "lead_settable", "strategy"]


def strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}") from None


def lead_settable() -> list[str]:
    """The strategies a lead may give a share of the project's mix, in turn order."""
    return [name for name, s in STRATEGIES.items() if s.lead_settable]
