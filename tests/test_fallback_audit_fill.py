"""Rows scored before ``ItemScore.fallback`` (NULL): the migration ``0009_itemscore_fallback_fill``
sets it from each row's stored probabilities with the version's decoding rule (its head, or for a
version whose head is gone its report's floor and the project's taxonomy by label id, where that can
be rebuilt); a NULL left reads as no fallback everywhere, so the browser's rows, its "predicted"
filter and the dashboard's counts agree.

The world is tests.test_fallback_shown_pages's: kind A falls back from late to "neg"; B and D emit
late; C emits pos."""
import importlib

import pytest
from django.apps import apps as django_apps
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.modeling.decoding import clear_rules
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.modeling.scores import score_version
from labeling.projects.models import Label
from tests.migration_steps import migration_step

from .test_fallback_shown_pages import CLASSES, fixed_head_bytes, make_world

fill_migration = importlib.import_module("labeling.modeling.migrations.0009_itemscore_fallback_fill")


def _world(project_factory, make_user, slug):
    project, lead, kinds = make_world(project_factory, make_user, slug)
    version = ModelVersion.objects.create(
        project=project, number=1, state=ModelVersion.ACTIVE, train_size=40, label_map=CLASSES, artifact=fixed_head_bytes(),
        metrics={"hierarchy": {"fine_floor": 0.75}},
        label_ids={label.name: label.pk for label in project.labels.all()})
    assert score_version(version) == 24
    ItemScore.objects.filter(model_version=version).update(fallback=None)  # scored before the column
    clear_rules()
    client = APIClient()
    client.force_login(lead)
    return project, version, kinds, client


def _stored(version) -> dict[int, bool | None]:
    return dict(ItemScore.objects.filter(model_version=version).values_list("item_id", "fallback"))


def _api_ids(client, url) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


def _shares(client, project) -> dict:
    rows = client.get(f"/api/projects/{project.slug}/dashboard/").json()["thresholds"]["rows"]
    return {row["label"]: row["predicted_share"] for row in rows}


@pytest.mark.django_db
def test_null_rows_read_as_their_stored_label_everywhere(project_factory, make_user):
    project, _, kinds, client = _world(project_factory, make_user, "fillnull")
    api = f"/api/projects/{project.slug}/items/"
    shown = {row["id"]: row["predicted_label"] for row in client.get(api).json()["results"]}
    # before: A's rows were shown as "neg" (decoded) but filtered and counted under late
    late = _api_ids(client, api + "?predicted=late")
    assert {i for i, name in shown.items() if name == "late"} == late == set(kinds["A"] + kinds["B"] + kinds["D"])
    assert _api_ids(client, api + "?predicted=neg") == set()
    assert _shares(client, project)["late"] == 0.75


@pytest.mark.django_db
def test_fill_sets_each_row_as_the_head_decodes_it(project_factory, make_user):
    project, version, kinds, client = _world(project_factory, make_user, "fillhead")
    fill_migration.fill(django_apps, None)
    stored = _stored(version)
    assert {i for i, fallback in stored.items() if fallback is True} == set(kinds["A"])
    assert all(stored[i] is False for kind in "BCD" for i in kinds[kind])
    api = f"/api/projects/{project.slug}/items/"
    assert _api_ids(client, api + "?predicted=neg") == set(kinds["A"])
    assert _api_ids(client, api + "?predicted=late") == set(kinds["B"] + kinds["D"])
    assert _shares(client, project) == {"late": 0.5, "rude": 0.0, "pos": 0.25, "neu": 0.0,
                                        "neg (fallback to the coarse label)": 0.25}


@pytest.mark.django_db
def test_fill_rebuilds_a_pruned_versions_rule_from_its_labels(project_factory, make_user):
    project, version, kinds, _ = _world(project_factory, make_user, "fillpruned")
    ModelVersion.objects.filter(pk=version.pk).update(artifact=None, pruned_at=timezone.now())
    fill_migration.fill(django_apps, None)
    stored = _stored(version)
    assert {i for i, fallback in stored.items() if fallback is True} == set(kinds["A"])
    assert all(stored[i] is False for kind in "BCD" for i in kinds[kind])


@pytest.mark.django_db
def test_fill_leaves_a_pruned_version_whose_taxonomy_changed(project_factory, make_user):
    project, version, _, _ = _world(project_factory, make_user, "fillmoved")
    ModelVersion.objects.filter(pk=version.pk).update(artifact=None, pruned_at=timezone.now())
    # late moved under a coarse label the version never knew: its branch then is not known
    other = Label.objects.create(project=project, name="complaint", hotkey="9")
    Label.objects.filter(project=project, name="late").update(parent=other)
    fill_migration.fill(django_apps, None)
    assert set(_stored(version).values()) == {None}


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_rows_written_before_it(project_factory, make_user):
    project, version, kinds, _ = _world(project_factory, make_user, "fillmig")
    flat = ModelVersion.objects.create(project=project, number=2, state=ModelVersion.RETIRED, train_size=40,
                                       label_map=CLASSES, metrics={}, artifact=None)
    ItemScore.objects.bulk_create([ItemScore(item_id=i, model_version=flat, probs=b"\0" * 8, top_label=0, top_prob=0.5,
                                             margin=0.1, entropy=0.1, fallback=None) for i in kinds["A"]])
    with migration_step("learner", "0008_itemscore_fallback", "0009_itemscore_fallback_fill") as step:
        step.migrate()
        stored = _stored(version)
        assert {i for i, fallback in stored.items() if fallback is True} == set(kinds["A"])
        assert {i for i, fallback in stored.items() if fallback is False} == set(kinds["B"] + kinds["C"] + kinds["D"])
        assert set(_stored(flat).values()) == {None}  # no head and no report of a hierarchy: left as it is
