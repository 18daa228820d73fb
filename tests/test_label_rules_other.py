"""One top-level Other label per project. A second label ticked Other (API or labels page) made
"none of these" answers store the wrong label: the server took the first Other by order, the
annotation page's button named it, and the key 0 picked the other one. It is refused naming the
field is_other, the database holds one (constraint label_one_other) and a migration leaves
projects that already have two with one: the label carrying the none-of-these key 0."""
import uuid

import pytest
from django.db import IntegrityError, transaction

from labeling.annotations import leasing
from labeling.annotations.models import Annotation
from labeling.projects.models import Label, Membership, Project
from tests.migration_steps import migration_step

from .test_annotation_helpers import add_member, make_open_wave
from .test_concurrency_races import Hold, api_as, race, response

pytestmark = pytest.mark.django_db

LABEL_FIELDS = ("name", "description", "hotkey", "parent", "precision_target", "recall_target", "order")


def labels_page_post(project, changes: dict[str, dict]) -> dict:
    """The labels page as a browser posts it: every label of ``project`` with its stored values,
    ``changes`` ({label name: {field: value}}) applied; a ticked box is posted, an unticked one not."""
    labels = list(project.labels.order_by("order", "name"))
    data = {"labels-TOTAL_FORMS": str(len(labels)), "labels-INITIAL_FORMS": str(len(labels)),
            "labels-MIN_NUM_FORMS": "0", "labels-MAX_NUM_FORMS": "1000"}
    for i, label in enumerate(labels):
        row = {"name": label.name, "description": label.description, "hotkey": label.hotkey,
               "parent": label.parent_id or "", "precision_target": label.precision_target or "",
               "recall_target": label.recall_target or "", "order": label.order, "is_other": label.is_other,
               **changes.get(label.name, {})}
        data[f"labels-{i}-id"] = label.pk
        data.update({f"labels-{i}-{field}": "" if row[field] is None else row[field] for field in LABEL_FIELDS})
        if row["is_other"]:
            data[f"labels-{i}-is_other"] = "on"
    return data


@pytest.fixture
def air(make_user):
    """A project made through the API with an Other label (hotkey 0), as the audit's "air"."""
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=Project.objects.create(slug="seed", name="Seed"), role="lead")
    r = api_as(lead).post("/api/projects/", {"slug": "air", "name": "Air", "labels": ["negative", "neutral", "positive"],
                                             "sources": ["web"], "other_label": True}, format="json")
    assert r.status_code == 201, r.content
    project = Project.objects.get(slug="air")
    return project, lead, {label.name: label for label in project.labels.all()}


def test_the_api_refuses_a_second_other_label_naming_is_other(air):
    project, lead, labels = air
    assert labels["Other"].is_other and labels["Other"].hotkey == "0"
    r = api_as(lead).patch(f"/api/projects/air/labels/{labels['positive'].pk}/", {"is_other": True}, format="json")
    assert r.status_code == 400, r.content  # before: 200, and "positive" became a second Other
    assert list(r.json()) == ["is_other"]
    assert "Other is ticked on “Other” and “positive”; a project has one top-level Other label" in r.json()["is_other"][0]
    assert not Label.objects.get(pk=labels["positive"].pk).is_other
    r = api_as(lead).post("/api/projects/air/labels/", {"name": "none", "is_other": True}, format="json")
    assert r.status_code == 400 and list(r.json()) == ["is_other"], r.content
    assert not project.labels.filter(name="none").exists()
    # Other moves to another label once it is unticked (with its key 0) where it was
    r = api_as(lead).patch(f"/api/projects/air/labels/{labels['Other'].pk}/", {"is_other": False, "hotkey": "o"},
                           format="json")
    assert r.status_code == 200, r.content
    r = api_as(lead).patch(f"/api/projects/air/labels/{labels['positive'].pk}/", {"is_other": True}, format="json")
    assert r.status_code == 200, r.content


def test_none_of_these_is_stored_as_the_other_label(air, make_user):
    project, lead, labels = air
    api_as(lead).patch(f"/api/projects/air/labels/{labels['positive'].pk}/", {"is_other": True}, format="json")
    make_open_wave(project, 2)
    ann = add_member(make_user, project, "ann")
    assignment = leasing.lease_batch(project, ann).assignments[0]
    r = api_as(ann).post("/api/projects/air/annotations/", {
        "client_id": str(uuid.uuid4()), "assignment": assignment.pk, "none_of_these": True}, format="json")
    assert r.status_code == 201, r.content
    stored = Annotation.objects.get(pk=r.json()["annotation"]["id"])
    assert stored.label.name == "Other"  # before: "positive"


def test_the_labels_page_refuses_a_second_other_label(air, client):
    project, lead, labels = air
    client.force_login(lead)
    response = client.post("/p/air/settings/labels/", labels_page_post(project, {"positive": {"is_other": True}}),
                           follow=True)
    body = response.content.decode()
    assert "Labels saved" not in body  # before: saved
    assert "Other is ticked on “Other” and “positive”" in body
    assert list(project.labels.filter(is_other=True).values_list("name", flat=True)) == ["Other"]


@pytest.mark.parametrize("ticked", ["negative", "positive"])  # the new Other's row before or after Other's
def test_the_labels_page_moves_the_other_tick_in_one_save(air, client, ticked):
    project, lead, labels = air
    client.force_login(lead)
    changes = {"Other": {"is_other": False, "hotkey": "o"}, ticked: {"is_other": True, "hotkey": "0"}}
    response = client.post("/p/air/settings/labels/", labels_page_post(project, changes), follow=True)
    assert "Labels saved" in response.content.decode()
    assert list(project.labels.filter(is_other=True).values_list("name", "hotkey")) == [(ticked, "0")]


def test_the_database_holds_one_top_level_other_label(air):
    project, _, labels = air
    with pytest.raises(IntegrityError), transaction.atomic():
        Label.objects.filter(pk=labels["positive"].pk).update(is_other=True)  # before: stored
    # a fine label may carry the flag: it is not the none-of-these answer
    Label.objects.create(project=project, name="other fine", parent=labels["negative"], is_other=True)


@pytest.mark.django_db(transaction=True)
def test_two_leads_ticking_other_at_once_get_one_other_label(postgres_only, air):
    project, lead, labels = air
    Label.objects.filter(pk=labels["Other"].pk).update(is_other=False)
    tick = lambda name: lambda: api_as(lead).patch(  # noqa: E731
        f"/api/projects/air/labels/{labels[name].pk}/", {"is_other": True}, format="json")
    first, second, waited = race(Hold('UPDATE "projects_label"'), tick("positive"), tick("negative"))
    (s1, b1), (s2, b2) = response(first), response(second)
    assert waited and s1 == 200, b1
    # before: the second read the project's labels before the first committed and stored a second
    # Other (200), or now with the constraint failed at its update (500); it waits, then is refused
    assert s2 == 400 and list(b2) == ["is_other"], b2
    assert list(project.labels.filter(is_other=True).values_list("name", flat=True)) == ["positive"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_other_label_that_holds_key_0(postgres_only):
    with migration_step("projects", "0011_project_calibration_matched", "0012_label_one_other") as step:
        apps = step.old_apps
        OldProject, OldLabel = apps.get_model("projects", "Project"), apps.get_model("projects", "Label")
        air, calm = OldProject.objects.create(slug="air", name="Air"), OldProject.objects.create(slug="calm", name="C")
        OldLabel.objects.create(project=air, name="positive", hotkey="r", is_other=True, order=2)
        OldLabel.objects.create(project=air, name="Other", hotkey="0", is_other=True, order=3)
        OldLabel.objects.create(project=calm, name="a", hotkey="1", is_other=True, order=1)
        OldLabel.objects.create(project=calm, name="b", hotkey="2", is_other=True, order=1)
        apps = step.migrate()
        NewLabel = apps.get_model("projects", "Label")
        got = set(NewLabel.objects.values_list("project__slug", "name", "hotkey", "is_other"))
        assert got == {("air", "positive", "r", False), ("air", "Other", "0", True),
                       ("calm", "a", "1", True), ("calm", "b", "2", False)}
