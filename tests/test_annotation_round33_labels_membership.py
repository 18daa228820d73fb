"""The annotation API when the project changes under an open page: a label renamed (or its hotkey
given to a new label of the old name) is caught by the name the page showed, and a member removed
mid-batch is told so (403) while outsiders still get the 404 that hides the project."""
import uuid

import pytest
from rest_framework.test import APIClient

from labeling.annotations import history, services
from labeling.annotations.models import Annotation, Assignment
from labeling.projects.membership import remove_member
from labeling.projects.models import Label, Membership

from .test_annotation_helpers import add_member, make_open_wave

ANSWERS = "/api/projects/ren/annotations/"


@pytest.fixture
def project(project_factory):
    p = project_factory("ren", labels=("billing", "login", "spam"))
    p.batch_size = 3
    p.save()
    return p


@pytest.fixture
def ann(make_user, project):
    return add_member(make_user, project, "ann")


def api_as(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def leased(client, slug="ren"):
    return client.post(f"/api/projects/{slug}/batches/", {}, format="json").json()["items"]


def rename_spam_to_abuse_and_add_a_new_spam(project):
    """What the auditor's lead did: spam becomes "abuse" on key 7, a new "spam" takes key 3."""
    old = project.labels.get(name="spam")
    old.name, old.hotkey = "abuse", "7"
    old.save()
    Label.objects.create(project=project, name="spam", hotkey="3")
    return old


def answer_body(assignment, label, **extra):
    return {"client_id": str(uuid.uuid4()), "assignment": assignment, "label": label, **extra}


def test_an_answer_chosen_by_a_label_name_that_changed_is_refused_and_carries_the_current_labels(project, ann):
    make_open_wave(project, 3)
    client = api_as(ann)
    first = leased(client)[0]
    old_spam = rename_spam_to_abuse_and_add_a_new_spam(project)

    refused = client.post(ANSWERS, answer_body(first["assignment"], old_spam.pk, label_name="spam"), format="json")

    assert refused.status_code == 409
    body = refused.json()
    assert body["field"] == "label_name"
    assert "“spam”, is now named “abuse”" in body["detail"] and "nothing was stored" in body["detail"]
    assert {(row["name"], row["hotkey"]) for row in body["labels"]} == {
        ("billing", "1"), ("login", "2"), ("abuse", "7"), ("spam", "3")}
    assert body["labels_version"]
    assert not Annotation.objects.exists()
    assert Assignment.objects.get(pk=first["assignment"]).state == Assignment.LEASED  # still waits for an answer

    # Chosen again under the current name, it is stored; a client that sends the id alone is unaffected.
    again = client.post(ANSWERS, answer_body(first["assignment"], old_spam.pk, label_name="abuse"), format="json")
    assert again.status_code == 201 and again.json()["annotation"]["label_name"] == "abuse"
    second = Assignment.objects.filter(annotator=ann, state=Assignment.LEASED).first()
    plain = client.post(ANSWERS, answer_body(second.pk, old_spam.pk), format="json")
    assert plain.status_code == 201 and "labels" not in plain.json()


def test_a_retry_of_an_answer_stored_before_the_rename_is_the_stored_answer(project, ann):
    make_open_wave(project, 1)
    client = api_as(ann)
    item = leased(client)[0]
    spam = project.labels.get(name="spam")
    body = answer_body(item["assignment"], spam.pk, label_name="spam")
    assert client.post(ANSWERS, body, format="json").status_code == 201
    rename_spam_to_abuse_and_add_a_new_spam(project)

    retry = client.post(ANSWERS, {**body, "labels_version": "what-the-page-had"}, format="json")

    assert retry.status_code == 200 and retry.json()["created"] is False
    assert "abuse" in {row["name"] for row in retry.json()["labels"]}  # the page learns the new names
    assert Annotation.objects.count() == 1


def answered_login_then_spam_renamed(project, ann):
    """(client, the stored "login" answer, the old spam label now named "abuse")."""
    make_open_wave(project, 1)
    client = api_as(ann)
    item = leased(client)[0]
    login = project.labels.get(name="login")
    stored = client.post(ANSWERS, answer_body(item["assignment"], login.pk), format="json").json()["annotation"]
    return client, stored, rename_spam_to_abuse_and_add_a_new_spam(project)


def test_a_change_to_a_label_named_otherwise_now_is_refused_and_the_earlier_answer_stands(project, ann):
    client, stored, old_spam = answered_login_then_spam_renamed(project, ann)

    with pytest.raises(services.AnswerRejected, match="“spam”, is now named “abuse”"):
        history.change_answer(project, ann, client_id=uuid.uuid4(), supersedes=stored["id"], label_id=old_spam.pk,
                              label_name="spam")

    assert list(Annotation.objects.values_list("label__name", "undone")) == [("login", False)]


def test_replies_carry_the_labels_only_when_the_pages_are_out_of_date(project, ann):
    make_open_wave(project, 3)
    client = api_as(ann)
    items = leased(client)
    billing = project.labels.get(name="billing")
    first = client.post(ANSWERS, answer_body(items[0]["assignment"], billing.pk, label_name="billing",
                                             labels_version=""), format="json").json()
    version = first["labels_version"]  # a page without a version learns it from its first answer
    assert [row["name"] for row in first["labels"]] == ["billing", "login", "spam"]

    unchanged = client.post(ANSWERS, answer_body(items[1]["assignment"], billing.pk, label_name="billing",
                                                 labels_version=version), format="json").json()
    assert "labels" not in unchanged

    rename_spam_to_abuse_and_add_a_new_spam(project)
    renewed = client.post("/api/projects/ren/batches/renew/", {"labels_version": version}, format="json")
    assert renewed.status_code == 200 and renewed.json()["renewed"] == 1
    assert renewed.json()["labels_version"] != version
    assert {row["name"]: row["hotkey"] for row in renewed.json()["labels"]}["abuse"] == "7"


def test_a_member_removed_mid_batch_is_told_so_and_outsiders_still_get_404(project, ann, make_user):
    add_member(make_user, project, "lea", role=Membership.LEAD)
    never_leased = add_member(make_user, project, "bob")
    outsider = make_user("eve")
    make_open_wave(project, 3)
    client = api_as(ann)
    item = leased(client)[0]
    remove_member(Membership.objects.get(project=project, user=ann))
    remove_member(Membership.objects.get(project=project, user=never_leased))

    answered = client.post(ANSWERS, answer_body(item["assignment"], project.labels.first().pk), format="json")
    renewed = client.post("/api/projects/ren/batches/renew/", {}, format="json")

    assert answered.status_code == 403
    assert answered.json()["detail"] == "You are no longer a member of project 'ren'; your answer was not stored."
    assert renewed.status_code == 403 and "no longer a member" in renewed.json()["detail"]
    assert not Annotation.objects.exists()
    # Anyone who never held an item of the project cannot tell it from one that does not exist.
    for user in (outsider, never_leased):
        for slug in ("ren", "no-such"):
            response = api_as(user).post(f"/api/projects/{slug}/batches/renew/", {}, format="json")
            assert response.status_code == 404 and response.json()["detail"] == "No such project."


def test_the_change_api_refuses_a_label_named_otherwise_now_with_the_current_labels(project, ann):
    client, stored, old_spam = answered_login_then_spam_renamed(project, ann)
    answer = client.post("/api/projects/ren/annotations/change/", {
        "client_id": str(uuid.uuid4()), "supersedes": stored["id"], "label": old_spam.pk, "label_name": "spam"},
        format="json")
    assert answer.status_code == 409, answer.content
    body = answer.json()
    assert "“spam”, is now named “abuse”" in body["detail"]
    assert {"abuse", "spam"} <= {label["name"] for label in body["labels"]}
    assert list(Annotation.objects.values_list("label__name", "undone")) == [("login", False)]
