"""A plan request that is refused anyway (wave size, budget, a waiting plan) is refused before it
embeds the items imported since: the embedding is the slow part of planning (minutes for a large
import), and a refusal must not cost it."""
import pytest

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.modeling.embedding import unembedded_item_ids
from labeling.projects.models import Project
from labeling.waves import services as waves
from labeling.waves.models import Wave
from learner.text import text_hash

WORDS = ("refund", "login", "password", "card", "transfer", "fee", "limit", "address", "phone", "statement",
         "loan", "branch", "cheque", "pin", "overdraft", "savings")


def add_items(project, prefix: str, n: int) -> list[Item]:
    source = project.sources.first()
    texts = [f"{prefix} {WORDS[i % 16]} {WORDS[(i * 7 + 3) % 16]} {WORDS[(i * 5 + 1) % 16]} {i}" for i in range(n)]
    return [Item.objects.create(project=project, source=source, text=text, text_hash=text_hash(text)) for text in texts]


@pytest.mark.django_db
def test_a_wave_size_of_zero_is_refused_before_embedding(project_factory):
    project = project_factory("early")
    add_items(project, "fresh", 4)
    Project.objects.filter(pk=project.pk).update(wave_size=0)  # saved before the settings were checked
    with pytest.raises(waves.NothingToPlan, match="set a wave size of at least 1"):
        waves.plan_next_wave(project)
    assert len(unembedded_item_ids(project)) == 4  # nothing was embedded for a refused plan
    assert not Wave.objects.exists()


@pytest.mark.django_db
def test_a_second_plan_is_refused_before_embedding_the_new_items(project_factory):
    project = project_factory("early")
    Project.objects.filter(pk=project.pk).update(wave_size=3, batch_size=3)
    add_items(project, "first", 6)
    first = waves.plan_next_wave(Project.objects.get(pk=project.pk))
    assert first.state == Wave.PLANNED and not unembedded_item_ids(project)
    add_items(project, "later", 5)
    with pytest.raises(waves.WaveAlreadyPlanned, match=f"Wave {first.number} is already planned"):
        waves.plan_next_wave(Project.objects.get(pk=project.pk))
    assert len(unembedded_item_ids(project)) == 5
    assert list(Wave.objects.values_list("number", "state")) == [(first.number, Wave.PLANNED)]


@pytest.mark.django_db
def test_a_spent_budget_is_refused_before_embedding(project_factory, make_user):
    project = project_factory("early")
    items = add_items(project, "labeled", 2)
    lead = make_user("lea")
    label = project.labels.first()
    for item in items:
        Annotation.objects.create(project=project, item=item, annotator=lead, label=label)
    Project.objects.filter(pk=project.pk).update(label_budget=2)
    add_items(project, "fresh", 3)
    with pytest.raises(waves.BudgetSpent):
        waves.plan_next_wave(Project.objects.get(pk=project.pk))
    assert len(unembedded_item_ids(project)) == 5


@pytest.mark.django_db
def test_a_stale_waiting_plan_is_still_planned_afresh(project_factory):
    """The early check refuses only what the locked one would: a waiting plan made under other
    settings is replaced, embedding the new items for the new plan."""
    project = project_factory("early")
    Project.objects.filter(pk=project.pk).update(wave_size=3, batch_size=3)
    add_items(project, "first", 6)
    first = waves.plan_next_wave(Project.objects.get(pk=project.pk))
    add_items(project, "later", 5)
    Project.objects.filter(pk=project.pk).update(wave_size=4)  # a wave-shaping setting changed: stale
    second = waves.plan_next_wave(Project.objects.get(pk=project.pk))
    assert second.state == Wave.PLANNED and second.report["replaces"][0]["wave"] == first.number
    assert not unembedded_item_ids(project)
    assert Wave.objects.get(pk=first.pk).state == Wave.DISCARDED


@pytest.mark.django_db
def test_a_stale_plan_holding_the_rest_of_the_budget_is_planned_afresh(project_factory):
    """The stale plan's picks hold the budget that is left: the early check must not count them as
    committed, since planning discards that plan first (a review found "budget spent" here)."""
    project = project_factory("early", sources=("email",))
    Project.objects.filter(pk=project.pk).update(wave_size=4, batch_size=4, label_budget=4, overlap=1)
    add_items(project, "first", 8)
    first = waves.plan_next_wave(Project.objects.get(pk=project.pk))
    assert first.size == 4  # the whole budget is committed to this plan
    Project.objects.filter(pk=project.pk).update(wave_size=3, batch_size=3)  # the waiting plan is stale now
    second = waves.plan_next_wave(Project.objects.get(pk=project.pk))
    assert second.state == Wave.PLANNED and 1 <= second.size <= 3
    assert Wave.objects.get(pk=first.pk).state == Wave.DISCARDED


@pytest.mark.django_db
def test_a_fresh_waiting_plan_is_named_before_the_budget(project_factory):
    project = project_factory("early", sources=("email",))
    Project.objects.filter(pk=project.pk).update(wave_size=4, batch_size=4, label_budget=4, overlap=1)
    add_items(project, "first", 8)
    first = waves.plan_next_wave(Project.objects.get(pk=project.pk))
    with pytest.raises(waves.WaveAlreadyPlanned, match=f"Wave {first.number} is already planned"):
        waves.plan_next_wave(Project.objects.get(pk=project.pk))
