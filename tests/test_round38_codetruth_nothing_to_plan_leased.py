"""Which items a plan may not draw has two implementations: the planner's
(labeling.waves.pool.off_limits_items: answered, under a live lease, excluded, pinned, in an
unfinished wave) and the message that explains an empty plan (labeling.waves.selectors.
why_nothing_to_plan: answered, excluded, in an unfinished wave). Items still leased in a closed
wave (close_note: "annotators can answer them until the lease expires ... the next wave leaves
leased items out") are missing from the second, so the lead is told they are duplicates:
"The other 2 are exact or near duplicates of answered or picked items"."""
import pytest

from labeling.annotations import leasing
from labeling.waves.services import PoolExhausted, close_wave, plan_next_wave

from .test_annotation_helpers import add_member, answer, make_open_wave

pytestmark = pytest.mark.django_db


def test_the_empty_plan_message_names_the_leased_items(project_factory, make_user):
    project = project_factory("leasedout", labels=("positive", "negative"))
    ann = add_member(make_user, project, "ann")
    wave, items = make_open_wave(project, 3, shuffle=False,
                                 texts=["the parcel never arrived", "my card was charged twice", "I cannot sign in"])
    held = {a.wave_item.item_id: a for a in leasing.lease_batch(project, ann, size=3).assignments}
    answer(project, ann, held[items[0].pk], project.labels.first())
    close_wave(wave)  # two items stay leased (live) and answerable
    with pytest.raises(PoolExhausted) as refused:
        plan_next_wave(project)
    message = str(refused.value)
    # today: "... of 3 items, 1 answered, 0 excluded by a lead. The other 2 are exact or near
    # duplicates of answered or picked items; the planner takes one item per duplicate group."
    assert "duplicates" not in message, message
    assert "leased" in message, message
