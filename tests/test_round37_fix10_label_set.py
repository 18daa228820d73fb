"""The label set a lead can save: no label may be named like the model's long-tail bucket (every
retrain would fail), and the Other label (the answer "none of these") is no coarse label — neither
ticked on a label with fine labels under it, nor given fine labels once it is the Other label.
Each path says so naming the field, before any write."""
import uuid

import pytest

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.modeling.selectors import training_set
from labeling.projects.models import Label, Project
from learner.heads.other_bucket import OTHER
from learner.text import text_hash

from .test_browse_api import api_as

pytestmark = pytest.mark.django_db


def _names(project):
    return sorted(project.labels.values_list("name", flat=True))


@pytest.mark.parametrize("name", [OTHER, "__OTHER__", " __Other__ ", "__\u043ether__"], ids=ascii)  # Cyrillic о too
def test_api_refuses_the_reserved_bucket_name_on_create_and_rename(world, name):
    alpha, lead = world["alpha"], api_as(world["lead"])
    before = _names(alpha)
    answer = lead.post("/api/projects/alpha/labels/", {"name": name}, format="json")
    assert answer.status_code == 400, answer.content
    assert list(answer.json()) == ["name"] and "is reserved for the model's long-tail bucket" in answer.json()["name"][0]
    login = alpha.labels.get(name="login")
    answer = lead.patch(f"/api/projects/alpha/labels/{login.pk}/", {"name": name}, format="json")
    assert answer.status_code == 400, answer.content
    assert "is reserved for the model's long-tail bucket" in answer.json()["name"][0]
    assert _names(alpha) == before
    # a name that merely contains it is a name like any other
    assert lead.post("/api/projects/alpha/labels/", {"name": "__other__s"}, format="json").status_code == 201


def test_labels_page_keeps_a_stored_reserved_name_editable_but_refuses_a_new_one(world):
    """A name stored before the rule is not judged again (as look-alikes stored before), so its other
    fields stay editable and the lead can rename it away."""
    alpha, lead = world["alpha"], api_as(world["lead"])
    stored = Label.objects.create(project=alpha, name=OTHER, hotkey="7")
    answer = lead.patch(f"/api/projects/alpha/labels/{stored.pk}/", {"description": "kept"}, format="json")
    assert answer.status_code == 200, answer.content
    answer = lead.patch(f"/api/projects/alpha/labels/{stored.pk}/", {"name": "catch-all"}, format="json")
    assert answer.status_code == 200, answer.content


@pytest.mark.parametrize("lines", [["billing", OTHER], ["billing > __Other__"], ["__other__ > refund"]], ids=ascii)
def test_new_project_refuses_a_label_line_with_the_reserved_name(client, world, lines):
    answer = api_as(world["lead"]).post("/api/projects/", {"slug": "tickets", "name": "Tickets",
                                                           "labels": lines}, format="json")
    assert answer.status_code == 400, answer.content
    assert list(answer.json()) == ["labels"], answer.json()
    assert "is reserved for the model's long-tail bucket" in answer.json()["labels"][0], answer.json()
    client.force_login(world["lead"])
    page = client.post("/projects/new/", {"name": "Tickets", "slug": "tickets", "sources": "web",
                                          "labels": "\n".join(lines)})
    assert page.status_code == 200 and "reserved for the model" in page.content.decode()
    assert not Project.objects.filter(slug="tickets").exists()


def _taxonomy(alpha):
    account = Label.objects.create(project=alpha, name="Account", hotkey="5")
    reset = Label.objects.create(project=alpha, name="password_reset", parent=account, hotkey="6")
    other = Label.objects.create(project=alpha, name="Other", is_other=True, hotkey="0")
    return account, reset, other


def test_other_cannot_be_ticked_on_a_coarse_label_with_fine_labels(world):
    alpha, lead = world["alpha"], api_as(world["lead"])
    account, reset, other = _taxonomy(alpha)
    assert lead.patch(f"/api/projects/alpha/labels/{other.pk}/", {"is_other": False, "hotkey": ""},
                      format="json").status_code == 200
    answer = lead.patch(f"/api/projects/alpha/labels/{account.pk}/", {"is_other": True}, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json() == {"is_other": [
        "“Account” cannot be the Other label (the answer “none of these”): it is a coarse label with fine labels "
        "under it (“password_reset”), and “none of these” answers would be stored as that group. Tick Other on a "
        "top-level label without fine labels, or move those fine labels first."]}
    account.refresh_from_db()
    assert not account.is_other
    # with its fine label moved away it may be the Other label
    assert lead.patch(f"/api/projects/alpha/labels/{reset.pk}/", {"parent": None}, format="json").status_code == 200
    assert lead.patch(f"/api/projects/alpha/labels/{account.pk}/", {"is_other": True}, format="json").status_code == 200


def test_no_fine_label_goes_under_the_other_label(world):
    alpha, lead = world["alpha"], api_as(world["lead"])
    account, reset, other = _taxonomy(alpha)
    answer = lead.patch(f"/api/projects/alpha/labels/{reset.pk}/", {"parent": other.pk}, format="json")
    assert answer.status_code == 400, answer.content
    assert list(answer.json()) == ["parent"]
    assert answer.json()["parent"][0].startswith("“password_reset” cannot go under “Other”: that is the Other label")
    answer = lead.post("/api/projects/alpha/labels/", {"name": "spam", "parent": other.pk}, format="json")
    assert answer.status_code == 400 and list(answer.json()) == ["parent"], answer.content
    reset.refresh_from_db()
    assert reset.parent_id == account.pk and not alpha.labels.filter(name="spam").exists()


def test_deleting_a_label_with_live_answers_says_what_a_lead_can_do_and_that_advice_works(world, make_user):
    """Answers keep the label they were given (only their annotator may change them, and the change
    stays in the history), so the label cannot be deleted; the refusal says what a lead can do:
    resolve those items in review with another label, whose decision then stands in training."""
    alpha, lead = world["alpha"], api_as(world["lead"])
    fraud, billing = alpha.labels.get(name="fraud"), alpha.labels.get(name="billing")
    items = [Item.objects.create(project=alpha, source=alpha.sources.first(), text=text, text_hash=text_hash(text))
             for text in ("odd charge", "card stolen")]
    for item in items:
        Annotation.objects.create(project=alpha, item=item, annotator=world["annotator"], label=fraud,
                                  client_id=uuid.uuid4())
    refused = lead.delete(f"/api/projects/alpha/labels/{fraud.pk}/")
    assert refused.status_code == 400, refused.content
    said = str(refused.json())
    assert "is in use by 2 answers (2 live) and cannot be deleted" in said, said
    assert "Change those answers" not in said  # a lead cannot: only an answer's annotator changes it
    assert "send those items to review" in said and "resolve them with another label" in said, said
    # the advice, followed: items sent to review and relabeled there; the lead's decision stands in training
    ids = [item.pk for item in items]
    assert lead.post("/api/projects/alpha/items/bulk/", {"action": "review", "items": ids},
                     format="json").status_code == 200
    tasks = lead.get("/api/projects/alpha/review/groups/").json()["groups"]
    task_ids = [task["id"] for group in tasks for task in group["tasks"]]
    answer = lead.post("/api/projects/alpha/review/bulk/", {"action": "relabel", "label": billing.pk,
                                                            "tasks": task_ids}, format="json")
    assert answer.status_code == 200, answer.content
    resolved = training_set(alpha)
    assert {resolved.labels[resolved.item_ids.index(pk)] for pk in ids} == {"billing"}
