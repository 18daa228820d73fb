"""Checks of the shares that make up a wave: the strategy mix with the random share, and the
source quotas. Pages, the API, the admin and the model's own validation (Project.clean_fields)
call these, so every path refuses the same values with the same words."""
from django.core.exceptions import ValidationError

from learner.planning.quotas import QUOTA_TOLERANCE
from learner.planning.strategies import lead_settable

# "Adds up to 1" within QUOTA_TOLERANCE: the planner's own value (learner.planning.quotas), so a set
# of quotas these checks accept is planned as a full set (three sources at 0.333333 included).
__all__ = ["QUOTA_TOLERANCE", "check_quota_total", "check_strategy_mix", "STRATEGIES"]
# The strategies a lead may give a share of the mix: the planner's registry decides.
STRATEGIES = tuple(lead_settable())


def check_quota_total(quotas) -> None:
    """Source quotas are shares of each wave and must add up to 1.0 (within QUOTA_TOLERANCE)."""
    quotas = [float(q) for q in quotas]
    if not quotas:
        raise ValidationError("A project needs at least one source.")
    for q in quotas:
        if q < 0 or q > 1:
            raise ValidationError(f"Each source quota must be between 0 and 1; got {q:g}.")
    total = sum(quotas)
    if not abs(total - 1.0) <= QUOTA_TOLERANCE:  # NaN fails too
        raise ValidationError(f"Source quotas must add up to 1.0 (±{QUOTA_TOLERANCE:g}); they add up to {total:.3f}.",
                              code="quota_total")


def check_strategy_mix(mix: dict, random_share: float) -> dict:
    """The strategy shares plus the random share make up a whole wave."""
    if not isinstance(mix, dict):
        raise ValidationError({"strategy_mix": "The strategy mix must be an object of strategy → share."})
    unknown = sorted(set(mix) - set(STRATEGIES))
    if unknown:
        raise ValidationError({"strategy_mix": f"Unknown strategies: {', '.join(unknown)} "
                                               f"(known: {', '.join(STRATEGIES)})."})
    clean = {}
    for name, value in mix.items():
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValidationError({"strategy_mix": f"The share of {name} is not a number: {value!r}."}) from None
        if not 0 <= value <= 1:
            raise ValidationError({"strategy_mix": f"The share of {name} must be between 0 and 1; got {value:g}."})
        clean[name] = value
    total = sum(clean.values()) + float(random_share)
    if not abs(total - 1.0) <= QUOTA_TOLERANCE:  # NaN fails too
        raise ValidationError({"strategy_mix": (
            f"Strategy shares plus the random share must add up to 1.0 (±{QUOTA_TOLERANCE:g}); "
            f"they add up to {total:.3f}.")})
    return clean
