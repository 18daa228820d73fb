"""A labels file for items the project already holds, where the item's duplicate group mate is held by
a wave: the planner takes one item per duplicate group and none of a group that holds an answer, so an
imported label for one copy turns the wave's pick of the other copy into a copy of an answered item.
Through the real importer and the overview's counts on the suite's database."""
import pytest

from labeling.items.importer import run_import
from labeling.items.models import Item
from labeling.projects.drawable import copies_of_answered
from labeling.projects.selectors import item_counts
from labeling.waves.models import Wave, WaveItem

pytestmark = pytest.mark.django_db

# T1 and T4 are exact duplicates (same text, same source): one duplicate group.
CORPUS = ("external_id,text,source\n"
          "T1,Where is my refund,chat\n"
          "T2,Cannot sign in to the app,email\n"
          "T3,My card was charged twice,email\n"
          "T4,Where is my refund,chat\n")


@pytest.fixture
def corpus(project_factory, tmp_path):
    project = project_factory("mates", labels=("billing", "login"), sources=("email", "chat"))
    path = tmp_path / "corpus.csv"
    path.write_text(CORPUS, encoding="utf-8")
    assert run_import(project, path).ok
    t1, t4 = (Item.objects.get(project=project, external_id=e) for e in ("T1", "T4"))
    assert t1.dup_group == t4.dup_group is not None  # one group, as the planner reads it
    return project


@pytest.mark.parametrize("state", [Wave.PLANNED, Wave.OPEN])
def test_a_label_for_the_group_mate_of_a_wave_pick_leaves_the_wave_asking_for_a_copy(corpus, tmp_path, state):
    """The wave drew T4 for the group {T1, T4} (one item per group). A labels file then brings a label
    to T1: pass 1 checks T1 alone (not picked, not leased) and the label goes in. The planned/open wave
    now asks its annotators for T4, a copy of an answered item that no wave may draw, and the overview
    counts it out of the pool while the wave still holds it (and the budget counts it committed)."""
    t4 = Item.objects.get(project=corpus, external_id="T4")
    wave = Wave.objects.create(project=corpus, number=1, state=state)
    WaveItem.objects.create(wave=wave, item=t4, strategy="random", inclusion_prob=0.5)
    before = item_counts(corpus)
    assert before["pool"] == 4 and before["copies"] == 0
    labels = tmp_path / "labels.csv"
    labels.write_text("external_id,text,source,label\nT1,Where is my refund,chat,billing\n", encoding="utf-8")
    result = run_import(corpus, labels)
    held = WaveItem.objects.filter(wave=wave).values_list("item_id", flat=True)
    copies_in_wave = list(copies_of_answered(corpus, held).values_list("external_id", flat=True))
    # Expected: the row is refused as for T4 itself (its group's answer is the wave's annotators' to
    # give), or the wave no longer asks for the copy. Actual: accepted, the wave asks for T4.
    assert not result.ok or copies_in_wave == [], (
        f"import accepted ({result.labels_attached} label attached); {state} wave 1 still asks for "
        f"{copies_in_wave}, a copy of the item just labeled; overview now: {item_counts(corpus)}")


def test_a_pinned_copy_of_an_answered_item_is_counted_out_of_the_pool_though_the_next_wave_draws_it(
        corpus, tmp_path, make_user):
    """T1 gets its label by import; a lead pins T4 (T1's exact duplicate, no answer) for the next
    wave. The planner puts every pinned, unanswered item in the next wave, whatever its duplicate
    group (waves.services._plan_locked: pool.pinned_items), yet the overview counts T4 as
    "waiting only as duplicates of answered items" (a wave never draws those) and not in the pool."""
    from labeling.items import bulk
    from labeling.waves import services as waves

    labels = tmp_path / "labels.csv"
    labels.write_text("external_id,text,source,label\nT1,Where is my refund,chat,billing\n", encoding="utf-8")
    assert run_import(corpus, labels).ok
    t4 = Item.objects.get(project=corpus, external_id="T4")
    lead = make_user("lead")
    assert bulk.apply(corpus, "pin", [t4.pk], lead).changed == 1
    counts = item_counts(corpus)
    wave = waves.plan_next_wave(corpus, size=2)
    drawn = set(WaveItem.objects.filter(wave=wave).values_list("item__external_id", flat=True))
    assert "T4" in drawn, drawn  # the next wave does draw the pinned copy
    # Expected: T4 counted in the pool (T2, T3, T4), as the overview's pool is what waves can draw.
    assert (counts["pool"], counts["copies"]) == (3, 0), counts
