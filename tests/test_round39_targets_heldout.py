"""Precision / recall targets on a real labeled dataset (trec coarse classes, MiniLM vectors),
judged against a held-out part the project never sees."""
import json

import numpy as np
import pytest

from labeling.modeling.predict import predict_texts
from labeling.modeling.versions import active_model
from labeling.projects.models import Label
from tests import test_loop_helpers as helpers

eager_celery = helpers.eager_celery
CLASSES = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]


def _trec_project(project_factory, shared_datasets, dataset_vectors, *, slug, n_labeled=600, seed=0):
    from django.conf import settings

    from labeling.annotations.models import Annotation
    from labeling.items.models import Item
    from labeling.modeling.models import Embedding
    from learner.text import exact_text_hash, text_hash

    rows = [json.loads(line) for line in (shared_datasets / "trec.jsonl").open(encoding="utf-8")]
    vectors = np.load(dataset_vectors("trec"))
    rng = np.random.default_rng(seed)
    train = [i for i, r in enumerate(rows) if r["split"] == "train"]
    rng.shuffle(train)
    labeled = train[:n_labeled]
    pool = train[n_labeled:n_labeled + 400]  # unlabeled pool items the project holds
    held = train[n_labeled + 400:n_labeled + 400 + 1500] + [i for i, r in enumerate(rows) if r["split"] == "test"]
    project = project_factory(slug, labels=CLASSES)
    by_name = {label.name: label for label in project.labels.all()}
    items = [Item(project=project, text=rows[i]["text"], text_hash=text_hash(rows[i]["text"])) for i in labeled + pool]
    Item.objects.bulk_create(items)
    items = list(Item.objects.filter(project=project).order_by("id"))
    model_id = settings.LONGTAIL_MODEL_ID
    emb, seen = [], set()
    for i in labeled + pool + held:
        for key in (text_hash(rows[i]["text"]), exact_text_hash(rows[i]["text"])):
            if key not in seen:
                seen.add(key)
                emb.append(Embedding(model_id=model_id, text_hash=key, vector=vectors[i].astype(np.float32).tobytes()))
    for label in project.labels.all():
        key = exact_text_hash(helpers.label_text(label))
        if key not in seen:
            seen.add(key)
            emb.append(Embedding(model_id=model_id, text_hash=key, vector=helpers.unit(rng, 1)[0].tobytes()))
    Embedding.objects.bulk_create(emb, ignore_conflicts=True)
    Annotation.objects.bulk_create([
        Annotation(project=project, item=item, label=by_name[rows[i]["coarse_label"]], origin=Annotation.IMPORT)
        for item, i in zip(items[:n_labeled], labeled, strict=True)])
    held_texts = [rows[i]["text"] for i in held]
    held_truth = [rows[i]["coarse_label"] for i in held]
    return project, held_texts, held_truth


@pytest.mark.django_db
def test_met_labels_hold_on_held_out_rows_and_predict_applies_the_shown_thresholds(
        project_factory, shared_datasets, dataset_vectors, eager_celery, django_capture_on_commit_callbacks,
        make_user):
    import io
    import zipfile

    from labeling.projects.models import Membership

    from .test_browse_api import api_as

    project, texts, truth = _trec_project(project_factory, shared_datasets, dataset_vectors, slug="trec39",
                                          n_labeled=800, seed=3)
    targets = {"DESC": (0.85, None), "ENTY": (0.8, None), "HUM": (0.9, None), "LOC": (0.85, None),
               "NUM": (0.9, 0.5), "ABBR": (0.8, None)}
    for name, (p, r) in targets.items():
        Label.objects.filter(project=project, name=name).update(precision_target=p, recall_target=r)
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == run.DONE, run.error
    version = active_model(project)
    lead = make_user("lead39t")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client = api_as(lead)
    shown = client.get(f"/api/projects/{project.slug}/models/{version.number}/").json()
    bundle = client.get(f"/api/projects/{project.slug}/export/model/")
    assert bundle.status_code == 200
    meta = json.loads(zipfile.ZipFile(io.BytesIO(bundle.content)).read("model.json"))
    assert meta["thresholds"] == shown["thresholds"]
    out = predict_texts(project, texts)
    via_api = client.post(f"/api/projects/{project.slug}/predict/", {"texts": texts[:50]}, format="json").json()
    assert [(r["label"], r["needs_review"]) for r in via_api["results"]] == [
        (r["label"], r["needs_review"]) for r in out[:50]]
    truth = np.array(truth)
    lab = np.array([o["label"] for o in out], dtype=object)
    rev = np.array([o["needs_review"] for o in out])
    prob = np.array([o["prob"] for o in out])
    # the predict API holds each prediction to exactly the threshold the models API shows
    assert np.array_equal(rev, prob < np.array([shown["thresholds"][name] for name in lab]))
    met = 0
    for row in shown["metrics"]["thresholds"]:
        name = row["label"]
        kept = (lab == name) & ~rev
        if row["met"] is not True:
            continue
        met += 1
        precision = ((truth == name) & kept).sum() / kept.sum()
        # held-out truth the project never saw: a "met" precision target holds
        assert precision >= row["target"]["precision"], (name, precision, row)
        if "recall" in row["target"]:
            recall = ((truth == name) & kept).sum() / (truth == name).sum()
            assert recall >= row["target"]["recall"], (name, recall, row)
        # a label whose target cannot be met automates nothing
    for row in shown["metrics"]["thresholds"]:
        if row["met"] is False and row["feasible"] is False and "precision" in row["target"]:
            assert not ((lab == row["label"]) & ~rev).any() or row["threshold"] < 1, row
    assert met >= 2
    # a target changed without a retrain: the shown thresholds are said to be for the old targets
    Label.objects.filter(project=project, name="HUM").update(precision_target=0.95)
    again = client.get(f"/api/projects/{project.slug}/models/{version.number}/").json()
    assert again["choices"]["labels_changed_since"] == ["targets"], again["choices"]
    page = client.get(f"/api/projects/{project.slug}/dashboard/").json()
    assert "trained under the earlier label targets" in page["model"]["choices"]
    # HUM and LOC swap names after training: each keeps its own threshold, under its name now
    hum, loc = Label.objects.get(project=project, name="HUM"), Label.objects.get(project=project, name="LOC")
    for label, name in ((hum, "tmp"), (loc, "HUM"), (hum, "LOC")):
        label.name = name
        label.save()
    swapped = predict_texts(project, texts)
    back = {"HUM": "LOC", "LOC": "HUM"}
    assert [(back.get(o["label"], o["label"]), o["needs_review"]) for o in swapped] == [
        (o["label"], o["needs_review"]) for o in out]
    rows = {r["label"]: r for r in client.get(f"/api/projects/{project.slug}/dashboard/").json()["thresholds"]["rows"]}
    assert rows["LOC"]["threshold"] == shown["thresholds"]["HUM"]
    assert rows["HUM"]["threshold"] == shown["thresholds"]["LOC"]
