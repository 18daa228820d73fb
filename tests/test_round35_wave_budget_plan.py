"""The last wave a label budget allows never asks more answers than the budget has left: where not
even one item at full overlap fits, the one item's overlap is cut to what is left. A project that
stored an overlap above the ceiling (labeling.projects.overlap.MAX_OVERLAP) before the ceiling
existed still plans waves that can complete: its double-labeled items ask MAX_OVERLAP answers."""
import pytest

from labeling.projects.models import Project
from labeling.projects.overlap import MAX_OVERLAP
from labeling.waves import selectors, services
from labeling.waves.models import WaveItem

from . import test_loop_helpers as helpers

pytestmark = pytest.mark.django_db


def _project(project_factory, **settings):
    project, _ = helpers.build_project(project_factory, slug="budget", n_items=60, n_labeled=0)
    Project.objects.filter(pk=project.pk).update(wave_size=10, batch_size=5, **settings)
    return Project.objects.get(pk=project.pk)


def _asked(wave) -> list[int]:
    return sorted(WaveItem.objects.filter(wave=wave).values_list("overlap", flat=True))


def test_last_wave_cuts_the_overlap_to_the_budget_left(project_factory):
    project = _project(project_factory, label_budget=3, overlap=5, double_label_share=1.0)
    project.full_clean()  # settings the page accepts
    wave = services.plan_next_wave(project)
    assert selectors.budget_status(project)["left"] == 3
    assert _asked(wave) == [3], "one item, asked of the 3 annotators the budget still pays for"
    assert wave.report["double_labeled"] == 1
    assert "ask fewer than 5 answers (3 in all): the label budget has 3 answers left" in wave.report["overlap_limited"]


def test_budget_for_one_answer_asks_one(project_factory):
    project = _project(project_factory, label_budget=1, overlap=4, double_label_share=1.0)
    wave = services.plan_next_wave(project)
    assert _asked(wave) == [1] and wave.report["double_labeled"] == 0


def test_a_budget_that_fits_keeps_the_full_overlap(project_factory):
    project = _project(project_factory, label_budget=25, overlap=3, double_label_share=0.5)
    wave = services.plan_next_wave(project)
    asked = _asked(wave)
    assert sum(asked) <= 25 and set(asked) == {1, 3}, asked
    assert "overlap_limited" not in wave.report


@pytest.mark.parametrize("share", [0.1, 1.0])
def test_a_stored_overlap_above_the_ceiling_plans_waves_that_can_complete(project_factory, share):
    # Stored before the ceiling existed (the API accepted up to 32767): update() skips the checks.
    project = _project(project_factory, label_budget=41, overlap=32767, double_label_share=share)
    wave = services.plan_next_wave(project)
    asked = _asked(wave)
    assert max(asked) <= MAX_OVERLAP and sum(asked) <= 41, asked
    assert wave.size > 1, "the wave shrinks to the budget at the capped overlap, not to one item"
    assert f"overlap of 32767 is above the most a wave asks ({MAX_OVERLAP})" in wave.report["overlap_limited"]


def test_a_stored_overlap_above_the_ceiling_without_budget(project_factory):
    project = _project(project_factory, overlap=500, double_label_share=0.5)
    wave = services.plan_next_wave(project)
    assert set(_asked(wave)) == {1, MAX_OVERLAP}
