"""A dashboard load does not unpickle the model versions' heads it read before: the estimates for
six versions of a coarse → fine model (more than the 4 heads ``load_classifier`` keeps) name each
fallback's coarse label from the stored ``ItemScore.fallback`` and the version's decoding rule,
kept per process. One version's scores predate the column (NULL): the migration that fills the
column in decodes them from the stored probability rows, with the same figures."""
import importlib
import uuid

import pytest
from django.apps import apps as django_apps
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.modeling.scores import score_version
from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem
from learner.training.classifier import TrainedClassifier

from .test_fallback_shown_pages import fixed_head_bytes, make_world

pytestmark = pytest.mark.django_db
TRUTH = {"A": "late", "B": "late", "C": "pos", "D": "late"}


@pytest.fixture
def six_versions(project_factory, make_user):
    project, lead, kinds = make_world(project_factory, make_user, "sixheads")
    blob = fixed_head_bytes()
    versions = [ModelVersion.objects.create(project=project, number=n, train_size=40, label_map=["late", "rude", "pos", "neu"],
                                            state=ModelVersion.ACTIVE if n == 6 else ModelVersion.RETIRED,
                                            metrics={"validation": {"per_class": {}, "macro_f1": 0.5}}, artifact=blob)
                for n in range(1, 7)]
    for version in versions:
        assert score_version(version) == 24
    ann = make_user("sixheads-ann")
    Membership.objects.create(user=ann, project=project, role=Membership.ANNOTATOR)
    labels = {label.name: label for label in project.labels.all()}
    wave = Wave.objects.create(project=project, number=2, model_version=versions[-1], state=Wave.CLOSED)
    for kind, ids in kinds.items():
        for item in Item.objects.filter(pk__in=ids):
            WaveItem.objects.create(wave=wave, item=item, strategy="random", inclusion_prob=0.5)
            Annotation.objects.create(project=project, item=item, annotator=ann, label=labels[TRUTH[kind]],
                                      client_id=uuid.uuid4())
    client = APIClient()
    client.force_login(lead)
    return project, client, versions


def test_second_dashboard_load_unpickles_no_head(six_versions, monkeypatch):
    project, client, _ = six_versions
    unpickled = []
    original = TrainedClassifier.from_bytes

    def counting(cls, data):
        unpickled.append(1)
        return original(data)

    monkeypatch.setattr(TrainedClassifier, "from_bytes", classmethod(counting))
    loads = []
    for _ in range(2):
        before = len(unpickled)
        data = client.get(f"/api/projects/{project.slug}/dashboard/").json()
        loads.append(len(unpickled) - before)
        curve = {point["version"]: point for point in data["learning_curve"]}
        assert len(curve) == 6
        estimate = data["estimates"]
        rows = {row["label"]: row for row in estimate["labels"]}
        # late: answered on A, B and D (18); B and D emit it (12); A's 6 fall back to "neg": misses
        assert rows["late"]["n"] == 18 and rows["late"]["n_predicted"] == 12
    assert 1 <= loads[0] <= 6  # the first load reads heads for the fallbacks' rules, each at most once
    assert loads[1] == 0


def test_rows_scored_before_the_column_give_the_same_figures(six_versions):
    project, client, versions = six_versions
    # version 2 was scored before ItemScore.fallback existed, then filled in by the migration
    ItemScore.objects.filter(model_version=versions[1]).update(fallback=None)
    importlib.import_module("labeling.modeling.migrations.0009_itemscore_fallback_fill").fill(django_apps, None)
    data = client.get(f"/api/projects/{project.slug}/dashboard/").json()
    curve = {point["version"]: point for point in data["learning_curve"]}
    # version 2's fallbacks are decoded from the probability rows; its estimate matches its neighbours'
    assert curve[2]["macro_f1_estimate"] is not None
    assert curve[2]["macro_f1_estimate"] == curve[1]["macro_f1_estimate"] == curve[3]["macro_f1_estimate"]
