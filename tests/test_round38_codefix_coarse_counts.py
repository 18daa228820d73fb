"""A fine answer implies its coarse label (labeling/annotations/models.py), so a coarse label whose
items were all answered at the fine level is not "0 labeled, rare": the dashboard counts them under
it (each item still once in the totals and the per-wave series), and the planner neither seeks it
"near its name" as a label nobody labeled nor fills its rare share with items it cannot rank (the
model gives the coarse label no probability of its own: p = 0 everywhere)."""
import numpy as np
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.modeling.models import Embedding
from labeling.projects.models import Label, Membership
from labeling.waves.models import WaveItem
from learner.text import exact_text_hash, text_hash

from . import test_loop_helpers as helpers
from .test_annotation_helpers import add_member

eager_celery = helpers.eager_celery
pytestmark = pytest.mark.django_db


def test_the_dashboard_counts_fine_answers_under_their_coarse_label_once(project_factory, make_user):
    project = project_factory("coarsedash", labels=("login", "fraud", "billing"))
    project.rare_threshold = 3
    project.save()
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    account = Label.objects.create(project=project, name="account", hotkey="9", order=0)
    Label.objects.filter(project=project, name__in=["login", "fraud"]).update(parent=account)
    labels = {label.name: label for label in project.labels.all()}
    source = project.sources.first()
    for n, name in enumerate(["login", "login", "fraud", "billing"]):
        text = f"imported text {n}"
        item = Item.objects.create(project=project, source=source, text=text, text_hash=text_hash(text))
        Annotation.objects.create(project=project, item=item, label=labels[name], origin=Annotation.IMPORT)

    api = APIClient()
    api.force_authenticate(lead)
    data = api.get("/api/projects/coarsedash/dashboard/").json()
    rows = {row["name"]: row for row in data["labels"]}
    assert (rows["account"]["labeled"], rows["account"]["rare"]) == (3, False), rows["account"]
    assert (rows["login"]["labeled"], rows["fraud"]["labeled"], rows["billing"]["labeled"]) == (2, 1, 1)
    assert rows["fraud"]["rare"] and rows["billing"]["rare"] and rows["login"]["rare"]
    # each labeled item once: the exact counts and the per-wave series add up to the 4 items
    assert sum(row["labeled_exact"] for row in data["labels"]) == 4
    assert rows["account"]["labeled_exact"] == 0
    assert sum(sum(counts) for counts in data["labeled_per_wave"]["series"].values()) == 4


def test_the_planner_spends_no_rare_picks_on_a_coarse_label_it_cannot_rank(
        eager_celery, project_factory, django_capture_on_commit_callbacks):
    project, _ = helpers.build_project(project_factory, slug="coarseplan", n_labeled=60, seed=3, wave_size=30,
                                        rare_threshold=500, strategy_mix={"rare": 0.9}, random_share=0.1)
    account = Label.objects.create(project=project, name="account", hotkey="9", order=0)
    Label.objects.filter(project=project, name__in=["login", "fraud"]).update(parent=account)
    vector = helpers.unit(np.random.default_rng(9), 1)[0]
    Embedding.objects.create(model_id=settings.LONGTAIL_MODEL_ID, text_hash=exact_text_hash(helpers.label_text(account)),
                             vector=vector.tobytes())
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    reasons = list(WaveItem.objects.filter(wave__project=project, strategy="rare").values_list("reason", flat=True))
    assert reasons and any(r.startswith("rare label fraud") for r in reasons)  # its fine labels are sought
    # before: "rare label account (none labeled): near its name"; counted but unrankable: "(24 labeled): p=0.00"
    assert not [r for r in reasons if r.startswith("rare label account")], reasons
