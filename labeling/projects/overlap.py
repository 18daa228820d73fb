"""The ceiling of a project's overlap (annotators per double-labeled item).

A double-labeled item waits for answers from that many different annotators, and its wave closes
only when every pick is answered: an overlap above the team's size is a wave that never closes,
and each extra answer is taken from the label budget. The team changes (members come and go), so
the ceiling is fixed rather than the member count; agreement between annotators is read from 2 or
3 answers per item, and 10 leaves room for a large panel. The model's clean(), the settings page
and the API refuse more (models.settings_errors); the planner asks at most this many answers of an
item even where a project stored more before the ceiling (labeling.waves.budget)."""
from __future__ import annotations

MAX_OVERLAP = 10

OVERLAP_WHY = ("Overlap is how many different annotators answer each double-labeled item, and its wave "
               "waits for all of them: more than the team can give is a wave that never closes.")


def overlap_errors(values) -> dict[str, str]:
    """{"overlap": message} when the overlap is above MAX_OVERLAP (the lowest bound is SETTING_RANGES')."""
    overlap = getattr(values, "overlap", None)
    if isinstance(overlap, int) and not isinstance(overlap, bool) and overlap > MAX_OVERLAP:
        return {"overlap": f"Overlap must be at most {MAX_OVERLAP} annotators; got {overlap:,}. {OVERLAP_WHY}"}
    return {}
