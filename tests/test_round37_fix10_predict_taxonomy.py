"""Predict after the taxonomy changed under the active model: a fine prediction's coarse label is the
fine label's coarse label now (as the export writes it), and a row whose taxonomy the model learned
differently says so (``taxonomy_note``) instead of naming a coarse label the label left, or none."""
import pytest

from labeling.modeling.embedding import embed_project
from labeling.modeling.scores import score_version
from labeling.modeling.versions import activate_version, train_version
from labeling.projects.models import Label

from .test_predict import api_as, label_project

pytestmark = pytest.mark.django_db

BILLING = "I was charged twice for my phone subscription"
FRAUD = "someone stole my card and paid for music"


def _trained(alpha, annotator, **fields):
    money = Label.objects.create(project=alpha, name="Money", hotkey="5")
    access = Label.objects.create(project=alpha, name="Access", hotkey="6")
    Label.objects.filter(project=alpha, name__in=["billing", "fraud"]).update(parent=money)
    Label.objects.filter(project=alpha, name="login").update(parent=access)
    for field, value in {"hierarchy_mode": "hierarchical", **fields}.items():
        setattr(alpha, field, value)
    alpha.save()
    label_project(alpha, annotator)
    embed_project(alpha)
    version = train_version(alpha)
    assert version.state != version.FAILED, version.metrics
    score_version(version)
    activate_version(version)
    return money, access


def _predict(world, *texts):
    answer = api_as(world["lead"]).post("/api/projects/alpha/predict/", {"texts": list(texts)}, format="json")
    assert answer.status_code == 200, answer.content
    return answer.json()["results"]


def test_a_moved_fine_label_answers_its_current_coarse_label_with_a_note(world):
    alpha = world["alpha"]
    money, access = _trained(alpha, world["annotator"])
    row = _predict(world, BILLING)[0]
    assert (row["label"], row["coarse_label"], row["fallback"]) == ("billing", "Money", False), row
    assert "taxonomy_note" not in row
    Label.objects.filter(project=alpha, name="billing").update(parent=access)
    row = _predict(world, BILLING)[0]
    assert (row["label"], row["coarse_label"]) == ("billing", "Access"), row
    assert row["taxonomy_note"] == ("'billing' is under 'Access' now; the model learned it under 'Money' and learns "
                                    "the new taxonomy at the next retrain")
    # its old coarse label deleted (fraud moved out first): still the current one, never null
    Label.objects.filter(project=alpha, name="fraud").update(parent=None)
    money.delete()
    billing, fraud = _predict(world, BILLING, FRAUD)
    assert (billing["label"], billing["coarse_label"]) == ("billing", "Access"), billing
    assert "'Money' (deleted since)" in billing["taxonomy_note"]
    assert (fraud["label"], fraud["coarse_label"]) == ("fraud", "fraud"), fraud  # top-level now: its own branch
    assert "'Money' (deleted since)" in fraud["taxonomy_note"], fraud


def test_a_fallback_to_a_deleted_coarse_label_says_so(world):
    alpha = world["alpha"]
    money, access = _trained(alpha, world["annotator"], fine_floor=1.0)  # every row falls back
    row = _predict(world, FRAUD)[0]
    assert (row["label"], row["coarse_label"], row["fallback"]) == ("Money", "Money", True), row
    assert "taxonomy_note" not in row
    Label.objects.filter(project=alpha, name="billing").update(parent=access)
    row = _predict(world, FRAUD, BILLING)[1]
    assert (row["label"], row["coarse_label"], row["fine_label"]) == ("Money", "Money", "billing"), row
    assert "no longer there" in row["taxonomy_note"], row
    Label.objects.filter(project=alpha, name="fraud").update(parent=None)
    money.delete()
    row = _predict(world, FRAUD)[0]
    assert row["label"] is None and row["coarse_label"] is None and row["needs_review"] is True, row
    assert "'Money', which has been deleted" in row["taxonomy_note"], row
