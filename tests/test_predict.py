"""Predict API and the model-backed dashboard, on a project trained through the real loop
(real encoder, labeling.modeling: train_version / score_version / activate_version)."""
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation, Assignment, ReviewTask
from labeling.items.models import Item
from labeling.modeling.embedding import embed_project
from labeling.modeling.scores import score_version
from labeling.modeling.versions import activate_version, load_classifier, train_version
from labeling.projects.models import Membership, Source
from labeling.waves.models import Wave, WaveItem
from learner.text import text_hash

pytestmark = pytest.mark.django_db

TEMPLATES = {
    "billing": ["I was charged twice for my {x} subscription", "please refund my {x} invoice",
                "why is my {x} bill so high this month"],
    "login": ["I cannot log in to my {x} account", "the password reset for {x} does not work",
              "locked out of the {x} login page"],
    "fraud": ["someone stole my card and paid for {x}", "unauthorized {x} transaction on my card",
              "a suspicious {x} charge I never made"],
}
# 14 variants × 9 templates = 126 items: enough for the learner to hold out a validation split.
THINGS = ["phone", "bank", "music", "cloud", "gym", "TV", "game", "news", "car", "travel", "food", "video",
          "school", "energy"]
N_PER_LABEL = 3 * len(THINGS)



@pytest.fixture
def world(make_user, project_factory):
    alpha = project_factory("alpha")
    users = {"admin": make_user("root", superuser=True), "lead": make_user("lena"),
             "annotator": make_user("ann"), "outsider": make_user("otto")}
    Membership.objects.create(user=users["lead"], project=alpha, role=Membership.LEAD)
    Membership.objects.create(user=users["annotator"], project=alpha, role=Membership.ANNOTATOR)
    return {"alpha": alpha, **users}


def label_project(project, annotator):
    """126 templated items, all answered by ``annotator`` through wave 1 leases."""
    source = project.sources.first()
    labels = {label.name: label for label in project.labels.all()}
    wave = Wave.objects.create(project=project, number=1, state=Wave.OPEN, size=3 * N_PER_LABEL, cold_start=True)
    position = 0
    for name, templates in TEMPLATES.items():
        for template in templates:
            for thing in THINGS:
                text = template.format(x=thing)
                item = Item.objects.create(project=project, source=source, text=text, text_hash=text_hash(text))
                pick = WaveItem.objects.create(wave=wave, item=item, strategy="random", inclusion_prob=0.25,
                                               position=position)
                position += 1
                lease = Assignment.objects.create(wave_item=pick, annotator=annotator, state=Assignment.DONE,
                                                  expires_at=timezone.now() + timedelta(hours=1))
                Annotation.objects.create(project=project, item=item, annotator=annotator, assignment=lease,
                                          label=labels[name], client_id=uuid.uuid4())
    return wave


@pytest.fixture
def trained(world):
    label_project(world["alpha"], world["annotator"])
    embed_project(world["alpha"])
    version = train_version(world["alpha"])
    score_version(version)
    activate_version(version)
    version.refresh_from_db()
    return version


def api_as(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_predict_without_model_says_so(world):
    response = api_as(world["lead"]).post("/api/projects/alpha/predict/", {"texts": ["hello"]}, format="json")
    assert response.status_code == 409 and "no active model" in response.json()["detail"]


def test_predict_validates_input(world):
    lead = api_as(world["lead"])
    assert lead.post("/api/projects/alpha/predict/", {"texts": []}, format="json").status_code == 400
    alpha = world["alpha"]
    alpha.max_text_chars = 10
    alpha.save()
    response = lead.post("/api/projects/alpha/predict/", {"texts": ["short", "x" * 11]}, format="json")
    assert response.status_code == 400 and "Text 1 has 11 characters" in str(response.json())


def test_predict_roles(world):
    url = "/api/projects/alpha/predict/"
    assert api_as(None).post(url, {"texts": ["x"]}, format="json").status_code in (401, 403)
    assert api_as(world["outsider"]).post(url, {"texts": ["x"]}, format="json").status_code == 404


def test_predict_labels_texts(world, trained):
    texts = ["I was charged twice for my netflix subscription", "I cannot log in to my email account",
             "unauthorized transaction on my card"]
    response = api_as(world["annotator"]).post("/api/projects/alpha/predict/", {"texts": texts}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["model_version"] == trained.number
    assert [r["label"] for r in body["results"]] == ["billing", "login", "fraud"]
    for row in body["results"]:
        assert 0 < row["prob"] <= 1 and isinstance(row["needs_review"], bool) and row["queued_item"] is None
        assert set(row["probabilities"]) == {"billing", "login", "fraud"}
        assert sum(row["probabilities"].values()) == pytest.approx(1, abs=1e-3)
        assert max(row["probabilities"], key=row["probabilities"].get) == row["label"]
        assert row["probabilities"][row["label"]] == pytest.approx(row["prob"], abs=1e-4)
    assert not ReviewTask.objects.exists()


def _force_review(version):
    """Raise every threshold of the real trained head above 1, in the served artifact and on the
    version the review routing reads: every prediction needs review."""
    clf = load_classifier(version)
    clf.thresholds = {name: 1.01 for name in clf.classes_}
    version.artifact = clf.to_bytes()
    version.thresholds = dict(clf.thresholds)
    version.save(update_fields=["artifact", "thresholds"])


UNLABELED = [f"a question about the {a} {b} plan" for a in ("red", "blue", "green", "amber")
             for b in ("north", "south", "east", "west", "upper")]  # 20 pool items nobody labeled


def test_predictions_needing_review_are_queued_within_the_review_share(world, trained):
    alpha = world["alpha"]
    _force_review(trained)
    source = alpha.sources.first()
    for text in UNLABELED:
        Item.objects.create(project=alpha, source=source, text=text, text_hash=text_hash(text))
    embed_project(alpha)
    score_version(trained)
    alpha.review_share_max = 0.2  # 20 scored unlabeled items: 4 open low-confidence tasks at most
    alpha.save()
    texts = ["my gym card was charged by someone else", "I was charged twice for my phone subscription",
             UNLABELED[0]]
    lead = api_as(world["lead"])
    # Project option off: nothing is queued.
    body = lead.post("/api/projects/alpha/predict/", {"texts": texts}, format="json").json()
    assert all(r["needs_review"] for r in body["results"]) and not ReviewTask.objects.exists()
    assert not any(r["queued_for_review"] for r in body["results"])

    alpha.queue_review_predictions = True
    alpha.save()
    items_before = Item.objects.filter(project=alpha).count()
    body = api_as(world["annotator"]).post("/api/projects/alpha/predict/", {"texts": texts}, format="json").json()
    new, labeled, pooled = body["results"]
    # A new text becomes an item of the first source; a pool text nobody labeled reuses its item;
    # a labeled item is never sent to review, and the row says why.
    created = Item.objects.get(pk=new["queued_item"])
    assert new["queued_for_review"] and created.text == texts[0]
    assert created.source == Source.objects.filter(project=alpha).order_by("pk").first()
    assert created.dup_group == created.pk
    assert pooled["queued_for_review"] and pooled["queued_item"] == Item.objects.get(text=UNLABELED[0]).pk
    assert not labeled["queued_for_review"] and labeled["review_note"] == "the text is a labeled item"
    assert Item.objects.filter(project=alpha).count() == items_before + 1
    tasks = ReviewTask.objects.filter(project=alpha, reason=ReviewTask.LOW_CONFIDENCE)
    assert sorted(tasks.values_list("item_id", flat=True)) == sorted([new["queued_item"], pooled["queued_item"]])
    assert set(tasks.values_list("model_version", flat=True)) == {trained.number}
    # Asking again does not open a second task for the same item.
    lead.post("/api/projects/alpha/predict/", {"texts": texts}, format="json")
    assert tasks.count() == 2

    # The queue holds at most the review share: two more of five new texts get in.
    alpha.allow_new_sources = True
    alpha.save()
    fresh = [f"a brand new complaint about the {w} desk" for w in ("oak", "pine", "elm", "ash", "yew")]
    body = lead.post("/api/projects/alpha/predict/", {"texts": fresh}, format="json").json()
    assert sum(r["queued_for_review"] for r in body["results"]) == 2 and tasks.count() == 4
    assert all("review queue is full" in r["review_note"] for r in body["results"] if not r["queued_for_review"])
    assert {Item.objects.get(pk=r["queued_item"]).source.name for r in body["results"] if r["queued_for_review"]} \
        == {"api"}


def test_dashboard_with_a_trained_model(client, world, trained):
    client.force_login(world["lead"])
    data = client.get("/api/projects/alpha/dashboard/").json()
    assert data["model"]["number"] == trained.number
    assert data["labeled_per_wave"]["waves"] == ["wave 1"]
    assert data["labeled_per_wave"]["series"] == {"billing": [N_PER_LABEL], "login": [N_PER_LABEL],
                                                 "fraud": [N_PER_LABEL]}
    # rare_threshold defaults to 500: every label here is rare.
    assert all(label["rare"] for label in data["labels"])
    assert [p["version"] for p in data["learning_curve"]] == [trained.number]
    assert 0 <= data["learning_curve"][0]["macro_f1"] <= 1
    assert {row["label"] for row in data["per_class"]} == {"billing", "login", "fraud"}
    assert len(data["confusion"]["matrix"]) == 3
    curves = data["pr_curves"]["curves"]
    assert set(curves) == {"billing", "login", "fraud"}
    assert all(len(c["precision"]) == len(c["recall"]) > 1 for c in curves.values())
    bins = data["reliability"]["bins"]
    # Held-out predictions of the training report: every labeled row, each scored by a fold model
    # that did not train on it (out of fold), not by the model fitted on all of them.
    assert data["reliability"]["source"].startswith("held-out")
    assert trained.metrics["validation_source"] == "cross-validation"
    assert sum(b["count"] for b in bins) == trained.metrics["n_evaluated"] <= 3 * N_PER_LABEL
    assert data["reliability"]["ece"] is not None
    assert {row["label"] for row in data["thresholds"]["rows"]} == {"billing", "login", "fraud"}
    assert data["throughput"] is None or isinstance(data["throughput"], list)
    page = client.get("/p/alpha/dashboard/").content.decode()
    assert "/static/vendor/chart.umd.min.js" in page and 'type="module" src="/static/js/dashboard/main.js"' in page


def test_dashboard_without_model(client, world):
    client.force_login(world["admin"])
    data = client.get("/api/projects/alpha/dashboard/").json()
    assert data["model"] is None and data["learning_curve"] == [] and data["per_class"] == []
    assert data["pr_curves"]["curves"] == {} and data["thresholds"]["rows"] == []
