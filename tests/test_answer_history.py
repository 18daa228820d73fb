"""Changing and clearing answers (a change is a new answer superseding the old), the history list,
why a lease comes back empty, reserved hotkeys, rule highlights and suggestions on answers."""
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.annotations import context, history, history_selectors, leasing, waiting
from labeling.annotations.models import Annotation, Assignment, ReviewTask
from labeling.annotations.selectors import resolve_item_labels
from labeling.projects import services as project_services
from labeling.projects.hotkeys import RESERVED_KEYS, hotkey_error
from labeling.projects.models import Label, Membership, Rule
from labeling.waves.models import Wave

from .test_annotation_helpers import add_member, answer, make_open_wave


@pytest.fixture
def project(project_factory):
    p = project_factory("hist", labels=("billing", "login", "fraud"))
    p.batch_size = 4
    p.save()
    return p


def api_as(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def labels(project):
    return {label.name: label for label in project.labels.all()}


def test_change_is_a_new_answer_that_supersedes_the_old_one(project, make_user):
    make_open_wave(project, 6, batch_size=4)
    ann = add_member(make_user, project, "ann")
    lab = labels(project)
    leased = leasing.lease_batch(project, ann).assignments
    first = answer(project, ann, leased[0], lab["login"]).annotation
    client = api_as(ann)
    r = client.post("/api/projects/hist/annotations/change/",
                    {"client_id": str(uuid.uuid4()), "supersedes": first.pk, "label": lab["fraud"].pk}, format="json")
    assert r.status_code == 201, r.content
    new_id = r.json()["annotation"]["id"]
    first.refresh_from_db()
    assert first.undone and first.superseded_by.pk == new_id and first.label == lab["login"]  # kept as it was
    assert resolve_item_labels(project) == {first.item_id: lab["fraud"].pk}
    assert Assignment.objects.get(pk=leased[0].pk).state == Assignment.DONE
    # A second change of the same old answer is refused with the answer that replaced it.
    r = client.post("/api/projects/hist/annotations/change/",
                    {"client_id": str(uuid.uuid4()), "supersedes": first.pk, "label": lab["billing"].pk},
                    format="json")
    assert r.status_code == 409 and f"answer {new_id} replaced it" in r.json()["detail"]
    # Changed again by client id (as the page queues it), then to a skip.
    new = Annotation.objects.get(pk=new_id)
    cid = str(uuid.uuid4())
    body = {"client_id": cid, "supersedes_client_id": str(new.client_id), "skipped": True, "skip_reason": "unclear"}
    r = client.post("/api/projects/hist/annotations/change/", body, format="json")
    assert r.status_code == 201
    assert Assignment.objects.get(pk=leased[0].pk).state == Assignment.SKIPPED
    assert client.post("/api/projects/hist/annotations/change/", body, format="json").status_code == 200  # retry
    assert Annotation.objects.filter(item_id=first.item_id).count() == 3
    assert resolve_item_labels(project) == {}


def test_clear_gives_the_item_back_and_a_retry_is_harmless(project, make_user):
    make_open_wave(project, 6, batch_size=4)
    ann = add_member(make_user, project, "ann")
    lab = labels(project)
    leased = leasing.lease_batch(project, ann).assignments
    first = answer(project, ann, leased[0], lab["login"]).annotation
    body = {"client_id": str(uuid.uuid4()), "supersedes": first.pk, "clear": True}
    client = api_as(ann)
    r = client.post("/api/projects/hist/annotations/change/", body, format="json")
    assert r.status_code == 201 and r.json()["annotation"] is None
    assignment = Assignment.objects.get(pk=leased[0].pk)
    assert assignment.state == Assignment.LEASED and assignment.expires_at > timezone.now()
    assert client.post("/api/projects/hist/annotations/change/", body, format="json").status_code == 200
    again = answer(project, ann, leased[0], lab["billing"]).annotation  # answered anew
    assert resolve_item_labels(project) == {again.item_id: lab["billing"].pk}


def test_change_refusals_name_the_field(project, make_user):
    make_open_wave(project, 4)
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    lab = labels(project)
    a = answer(project, ann, leasing.lease_batch(project, ann).assignments[0], lab["login"]).annotation
    client = api_as(bob)
    r = client.post("/api/projects/hist/annotations/change/",
                    {"client_id": str(uuid.uuid4()), "supersedes": a.pk, "label": lab["fraud"].pk}, format="json")
    assert r.status_code == 404 and r.json()["field"] == "supersedes"  # not bob's answer
    r = api_as(ann).post("/api/projects/hist/annotations/change/",
                         {"client_id": str(uuid.uuid4()), "supersedes": a.pk}, format="json")
    assert r.status_code == 400 and "exactly one" in r.json()["detail"]
    r = api_as(ann).post("/api/projects/hist/annotations/change/", {"client_id": str(uuid.uuid4())}, format="json")
    assert r.status_code == 400 and "supersedes" in r.json()


def test_change_after_disagreement_withdraws_the_review_task(project, make_user):
    project.overlap = 2
    project.save()
    make_open_wave(project, 2, double={0, 1})
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    lab = labels(project)
    a = answer(project, ann, leasing.lease_batch(project, ann, size=1).assignments[0], lab["login"]).annotation
    answer(project, bob, leasing.lease_batch(project, bob, size=1).assignments[0], lab["fraud"])
    assert ReviewTask.objects.filter(reason=ReviewTask.DISAGREEMENT).count() == 1
    history.change_answer(project, ann, client_id=uuid.uuid4(), supersedes=a.pk, label_id=lab["fraud"].pk)
    assert ReviewTask.objects.filter(reason=ReviewTask.DISAGREEMENT).count() == 0


def test_history_lists_answers_that_count_newest_first(project, make_user):
    make_open_wave(project, 6, batch_size=4)
    ann = add_member(make_user, project, "ann")
    lab = labels(project)
    leased = leasing.lease_batch(project, ann).assignments
    a0 = answer(project, ann, leased[0], lab["login"]).annotation
    answer(project, ann, leased[1], lab["billing"])
    history.change_answer(project, ann, client_id=uuid.uuid4(), supersedes=a0.pk, label_id=lab["fraud"].pk)
    rows = api_as(ann).get("/api/projects/hist/annotations/history/").json()["results"]
    assert [(r["label_name"], r["supersedes"] is not None) for r in rows] == [("fraud", True), ("billing", False)]
    assert rows[0]["hotkey"] == lab["fraud"].hotkey and rows[0]["snippet"]
    assert api_as(ann).get("/api/projects/hist/annotations/history/?limit=x").status_code == 400
    # Reload: the answered items of the held batch come back with their answers.
    held = leasing.lease_batch(project, ann)
    assert held.resumed
    done = history_selectors.batch_answered(project, ann, held.assignments)
    assert [d["answered"]["label_name"] for d in done] == ["fraud", "billing"]


def test_why_waiting_second_annotator_and_leases_of_others(project, make_user):
    project.overlap = 2
    project.save()
    make_open_wave(project, 3, double={0, 1, 2})
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    lab = labels(project)
    for a in leasing.lease_batch(project, ann).assignments:
        answer(project, ann, a, lab["login"])
    data = api_as(ann).post("/api/projects/hist/batches/", {}, format="json").json()
    assert data["items"] == [] and data["waiting"]["reason"] == "second_annotator"
    assert "3 items of the open wave wait for a second annotator" in data["message"]
    leases = leasing.lease_batch(project, bob).assignments
    Assignment.objects.filter(pk__in=[a.pk for a in leases]).update(
        expires_at=timezone.now() + timedelta(minutes=7))
    why = waiting.why_waiting(project, ann)
    assert why["leased_by_others"] == 3 and why["back_at"]
    assert "3 items are leased by other annotators; unanswered leases come back at" in why["message"]
    assert waiting.members_short(project) is None  # two members can fill two slots
    Membership.objects.filter(user=bob).delete()
    short = waiting.members_short(project)
    assert short["needed"] == 2 and short["members"] == 1 and "needs a second member" in short["message"]
    Wave.objects.update(state=Wave.CLOSED)
    assert waiting.why_waiting(project, ann)["reason"] == "no_wave"


@pytest.mark.parametrize("key", sorted(k for k in RESERVED_KEYS if len(k) == 1))
def test_every_reserved_key_is_refused_by_the_model(project, key):
    label = Label(project=project, name=f"x{ord(key)}", hotkey=key)
    with pytest.raises(ValidationError) as caught:
        project_services.save_label(project, label)
    shown = "Space" if key == " " else f"“{key}”"
    assert f"Hotkey {shown} is reserved" in caught.value.message_dict["hotkey"][0]


def test_hotkey_rules():
    assert hotkey_error("0", is_other=True) is None
    assert "Other label" in hotkey_error("0", is_other=True, parent_id=3)
    assert hotkey_error("q") is None and hotkey_error("") is None
    assert "not one key" in hotkey_error("ab")


def test_highlights_are_spans_and_suggestions_are_recorded(project, make_user):
    lab = labels(project)
    Rule.objects.create(project=project, label=lab["fraud"], kind=Rule.KEYWORD, pattern="stolen card")
    Rule.objects.create(project=project, label=lab["billing"], kind=Rule.REGEX, pattern=r"charged (twice|two times)")
    text = "🙂 My stolen card was charged twice; STOLEN CARD again."
    spans = context.highlights(text, context._rules(project))
    assert [(text[s:e], name) for s, e, name in spans] == [
        ("stolen card", "fraud"), ("charged twice", "billing"), ("STOLEN CARD", "fraud")]
    make_open_wave(project, 2)
    ann = add_member(make_user, project, "ann")
    a = leasing.lease_batch(project, ann).assignments[0]
    r = api_as(ann).post("/api/projects/hist/annotations/", {
        "client_id": str(uuid.uuid4()), "assignment": a.pk, "label": lab["fraud"].pk,
        "suggestion_shown": True, "suggested_label": lab["fraud"].pk}, format="json")
    assert r.status_code == 201 and r.json()["annotation"]["suggestion_shown"] is True
    stored = Annotation.objects.get(pk=r.json()["annotation"]["id"])
    assert stored.suggested_label == lab["fraud"]
    r = api_as(ann).post("/api/projects/hist/annotations/", {
        "client_id": str(uuid.uuid4()), "item": a.wave_item.item_id, "label": lab["fraud"].pk,
        "suggested_label": 999999}, format="json")
    assert r.status_code == 400 and r.json()["field"] == "suggested_label"


def test_settings_metadata_checked_on_the_api(project, make_user):
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    client = api_as(lead)
    ok = client.patch("/api/projects/hist/", {"annotator_metadata": ["tier"], "show_suggestions": True},
                      format="json")
    assert ok.status_code == 200 and ok.json()["annotator_metadata"] == ["tier"]
    bad = client.patch("/api/projects/hist/", {"annotator_metadata": "tier"}, format="json")
    assert bad.status_code == 400 and "Metadata shown to annotators" in str(bad.json())
