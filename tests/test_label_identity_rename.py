"""A model's classes keep their identity through label renames: the active model learned label
names, but every reader maps its columns to the project's labels by the ids recorded when it
trained. After a rename (or two labels swapping names) the predict API, the item browser's
predicted-label filter, an item's story, the annotation page's suggestion, the planner's columns,
the dashboard and the model bundle speak of the labels by their current names, each column still
the label it learned. Real label API, real training path, PostgreSQL in CI."""
import io
import json
import zipfile

import pytest

from labeling.annotations.context import enrich
from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.waves.pool import planner_snapshot
from tests import test_label_identity_helpers as helpers

pytestmark = pytest.mark.django_db
trained = helpers.trained


def predict(client, texts):
    r = client.post(f"/api/projects/{helpers.SLUG}/predict/", {"texts": texts, "queue_for_review": False},
                    format="json")
    assert r.status_code == 200, r.content
    return r.json()["results"]


def test_the_version_records_the_label_ids_of_its_classes(trained):
    project, _, version, labels = trained
    stored = ModelVersion.objects.get(pk=version.pk)
    assert stored.label_ids == {name: labels[name].pk for name in stored.label_map}


def test_predict_answers_a_renamed_label_by_its_new_name(trained):
    project, client, version, labels = trained
    neutral = helpers.items_predicted(version, "neutral")[:3]
    texts = list(Item.objects.filter(pk__in=neutral).order_by("pk").values_list("text", flat=True))
    assert [row["label"] for row in predict(client, texts)] == ["neutral"] * 3
    helpers.rename(client, labels["neutral"], "neutral2")
    rows = predict(client, texts)
    assert [row["label"] for row in rows] == ["neutral2"] * 3
    assert set(rows[0]["probabilities"]) == {"negative", "neutral2", "positive"}


def test_predict_after_a_swap_answers_each_class_by_its_labels_new_name(trained):
    project, client, version, labels = trained
    neutral = helpers.items_predicted(version, "neutral")[:2]
    positive = helpers.items_predicted(version, "positive")[:2]
    texts = list(Item.objects.filter(pk__in=neutral + positive).order_by("pk").values_list("pk", "text"))
    before = {pk: row for (pk, _), row in zip(texts, predict(client, [t for _, t in texts]), strict=True)}
    helpers.swap(client, labels["neutral"], labels["positive"])
    after = {pk: row for (pk, _), row in zip(texts, predict(client, [t for _, t in texts]), strict=True)}
    for pk in neutral:  # the class learned as "neutral" is the label now named "positive"
        assert before[pk]["label"] == "neutral" and after[pk]["label"] == "positive"
        assert after[pk]["probabilities"]["positive"] == before[pk]["probabilities"]["neutral"]
    for pk in positive:
        assert before[pk]["label"] == "positive" and after[pk]["label"] == "neutral"


def test_browse_filters_by_a_renamed_labels_new_name(trained):
    project, client, version, labels = trained
    neutral = helpers.items_predicted(version, "neutral")
    helpers.rename(client, labels["neutral"], "neutral2")
    r = client.get(f"/api/projects/{helpers.SLUG}/items/", {"predicted": "neutral2", "page_size": 200})
    assert r.status_code == 200, r.content
    rows = r.json()["results"]
    assert sorted(row["id"] for row in rows) == neutral
    assert {row["predicted_label"] for row in rows} == {"neutral2"}
    # the item's page: what v1 predicted, by the label's name now
    story = client.get(f"/api/projects/{helpers.SLUG}/items/{neutral[0]}/").json()
    assert [p["label"] for p in story["predictions"]] == ["neutral2"]


def test_browse_after_a_swap_filters_by_identity(trained):
    project, client, version, labels = trained
    neutral = helpers.items_predicted(version, "neutral")
    helpers.swap(client, labels["neutral"], labels["positive"])
    r = client.get(f"/api/projects/{helpers.SLUG}/items/", {"predicted": "positive", "page_size": 200})
    assert sorted(row["id"] for row in r.json()["results"]) == neutral


def test_the_annotation_pages_suggestion_follows_the_label(trained):
    project, client, version, labels = trained
    project.show_suggestions = True
    project.save()
    item = Item.objects.get(pk=helpers.items_predicted(version, "neutral")[0])
    helpers.swap(client, labels["neutral"], labels["positive"])
    [payload] = enrich(project, [{"item": item.pk, "text": item.text}])
    suggestion = payload["suggestion"]
    assert (suggestion["label"], suggestion["label_name"]) == (labels["neutral"].pk, "positive")


def test_the_planner_keeps_a_renamed_labels_column(trained):
    project, client, version, labels = trained
    helpers.rename(client, labels["neutral"], "neutral2")
    helpers.cache_label_vector(project)
    timings: dict = {}
    snapshot = planner_snapshot(project, version, timings)
    assert "model_labels_not_listed" not in timings
    column = snapshot.label_names.index("neutral2")
    stored = dict(ItemScore.objects.filter(model_version=version, top_label=version.label_map.index("neutral"))
                  .values_list("item_id", "top_prob"))
    rows = {int(item_id): row for row, item_id in enumerate(snapshot.item_ids)}
    for item_id, prob in stored.items():
        assert snapshot.proba[rows[item_id], column] == pytest.approx(prob, abs=2e-3)


def test_the_planner_after_a_swap_puts_each_column_under_its_label(trained):
    project, client, version, labels = trained
    helpers.swap(client, labels["neutral"], labels["positive"])
    helpers.cache_label_vector(project)
    snapshot = planner_snapshot(project, version, {})
    learned_neutral = helpers.items_predicted(version, "neutral")
    rows = {int(item_id): row for row, item_id in enumerate(snapshot.item_ids)}
    top = snapshot.proba.argmax(axis=1)
    assert {snapshot.label_names[top[rows[i]]] for i in learned_neutral} == {"positive"}


def test_the_dashboard_names_the_models_classes_as_they_are_now(trained):
    project, client, version, labels = trained
    helpers.rename(client, labels["neutral"], "neutral2")
    r = client.get(f"/api/projects/{helpers.SLUG}/dashboard/")
    assert r.status_code == 200, r.content
    data = r.json()
    assert {row["label"] for row in data["thresholds"]["rows"]} == {"negative", "neutral2", "positive"}
    assert {row["label"] for row in data["per_class"]} <= {"negative", "neutral2", "positive"}
    if data["confusion"]:
        assert "neutral" not in data["confusion"]["classes"]


def test_the_model_bundle_carries_current_names_and_ids(trained):
    project, client, version, labels = trained
    helpers.swap(client, labels["neutral"], labels["positive"])
    r = client.get(f"/api/projects/{helpers.SLUG}/export/model/")
    assert r.status_code == 200, r.content[:300]
    meta = json.loads(zipfile.ZipFile(io.BytesIO(r.content)).read("model.json"))
    trained_names = meta["trained_label_map"]
    assert trained_names == version.label_map
    now = {"negative": "negative", "neutral": "positive", "positive": "neutral"}
    assert meta["label_map"] == [now[name] for name in trained_names]
    assert meta["label_ids"] == [labels[name].pk for name in trained_names]


@pytest.mark.parametrize("raw", ["%C2%B2", "%D9%A3", "abc", "0", "1.0"])
def test_a_version_that_is_not_a_plain_number_is_refused_with_400(trained, raw):
    project, client, version, labels = trained
    r = client.get(f"/api/projects/{helpers.SLUG}/export/model/?version={raw}")
    assert r.status_code == 400, r.content[:300]
    assert "version must be a model version number" in r.content.decode()


def test_a_deleted_labels_column_maps_to_no_label(trained):
    from labeling.modeling.selectors import model_labels  # the selector this change adds

    project, client, version, labels = trained
    # A label the model learned that is gone now (deleting it is refused while answers hold it:
    # the recorded id names a label that no longer exists).
    stored = ModelVersion.objects.get(pk=version.pk)
    stored.label_ids = {**stored.label_ids, "neutral": 10**9}
    stored.save(update_fields=["label_ids"])
    columns = model_labels(stored)
    at = stored.label_map.index("neutral")
    assert columns.ids[at] is None and columns.names[at] is None
    assert columns.column_of_label(labels["neutral"].pk) is None


def test_the_models_api_names_each_class_by_its_label_now(trained):
    project, client, version, labels = trained
    helpers.swap(client, labels["neutral"], labels["positive"])
    row = next(v for v in client.get(f"/api/projects/{helpers.SLUG}/models/").json()["results"]
               if v["number"] == version.number)
    classes = {c["trained_as"]: (c["label_id"], c["name"]) for c in row["labels"]}
    assert classes["neutral"] == (labels["neutral"].pk, "positive")
    assert classes["positive"] == (labels["positive"].pk, "neutral")
    assert row["label_map"] == version.label_map  # the names the version trained with, as stored
