"""The export says which wave, strategy and inclusion probability brought each label: the newest
answer given through a wave lease, else the item's first wave pick. An item left unanswered in a
wave a lead closed goes back to the pool and can be drawn again by a later wave, under another
strategy and probability. Deleting the account of the annotator who answered it there must not
move the label to the first wave's pick: the answer is still the one that wave's lease brought."""
import pytest
from django.contrib.auth import get_user_model

from labeling.annotations import leasing
from labeling.export.services import iter_rows
from labeling.items.models import Item
from labeling.projects.dashboard import labeled_per_wave
from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem
from learner.text import text_hash

from .test_annotation_helpers import add_member, answer, api_as, make_open_wave

pytestmark = pytest.mark.django_db


def test_a_deleted_annotators_label_keeps_the_wave_that_brought_it(project_factory, make_user):
    project = project_factory("again", labels=("billing", "login"))
    project.batch_size = 1
    project.save()
    item = Item.objects.create(project=project, source=project.sources.first(), text="refund please",
                               text_hash=text_hash("refund please"))
    first = Wave.objects.create(project=project, number=1, state=Wave.CLOSED, size=1)  # closed, never answered
    WaveItem.objects.create(wave=first, item=item, strategy="label_names", inclusion_prob=0.1, overlap=1)
    second = Wave.objects.create(project=project, number=2, state=Wave.OPEN, size=1)
    WaveItem.objects.create(wave=second, item=item, strategy="random", inclusion_prob=0.5, overlap=1)
    lena = add_member(make_user, project, "lena", role=Membership.LEAD)
    bob = add_member(make_user, project, "bob")
    held = leasing.lease_batch(project, bob).assignments
    assert [a.wave_item.wave_id for a in held] == [second.pk]
    answer(project, bob, held[0], project.labels.get(name="billing"))
    names = {label.pk: label.name for label in project.labels.all()}

    def export_row():
        (row,) = list(iter_rows(project))
        return row["wave"], row["strategy"], row["inclusion_prob"]

    def answers_of_wave_2():
        listed = api_as(lena).get("/api/projects/again/answers/", {"wave": 2})
        assert listed.status_code == 200, listed.content
        return [(row["item"], row["wave"]) for row in listed.json()["results"]]

    assert export_row() == (2, "random", 0.5)
    assert labeled_per_wave(project, names)[0]["waves"] == ["wave 2"]
    assert answers_of_wave_2() == [(item.pk, 2)]

    get_user_model().objects.get(pk=bob.pk).delete()  # bob left; his answer stays in the data

    assert export_row() == (2, "random", 0.5)
    assert labeled_per_wave(project, names)[0]["waves"] == ["wave 2"]
    assert answers_of_wave_2() == [(item.pk, 2)]


def test_a_deleted_annotators_answers_keep_their_wave_in_the_answers_api(project_factory, make_user):
    """The commonest case: one wave. The answers API lists each answer with its wave and filters by it."""
    project = project_factory("plain", labels=("billing", "login"))
    project.batch_size = 2
    project.save()
    make_open_wave(project, 2)
    lena = add_member(make_user, project, "lena", role=Membership.LEAD)
    bob = add_member(make_user, project, "bob")
    for assignment in leasing.lease_batch(project, bob).assignments:
        answer(project, bob, assignment, project.labels.get(name="billing"))

    def wave_1():
        listed = api_as(lena).get("/api/projects/plain/answers/", {"wave": 1})
        assert listed.status_code == 200, listed.content
        return sorted((row["item"], row["wave"]) for row in listed.json()["results"])

    before = wave_1()
    assert len(before) == 2
    get_user_model().objects.get(pk=bob.pk).delete()
    assert wave_1() == before
