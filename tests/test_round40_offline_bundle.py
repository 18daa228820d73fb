"""A data scientist takes a project's exports out of the server: the model bundle of a model
trained on real data (trec questions, coarse → fine), loaded in a separate plain Python process
that imports only what the bundle's README says (sentence-transformers and the head), must answer
as the server's predict API does for the same texts and the same model version: labels, coarse
fallbacks, needs_review and every class's probability (the API rounds them to 4 decimals).

The label export's rows must be the database's answers (labels, origins, disputes, the wave pick
that brought each label)."""
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests import test_loop_helpers as helpers
from tests.encoder_exports import copy_exports

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "datasets"
eager_celery = helpers.eager_celery

FINE = ("LOC:city", "LOC:country", "LOC:other", "NUM:date", "NUM:count", "NUM:money",
        "HUM:ind", "HUM:gr", "DESC:def", "DESC:manner", "ENTY:animal", "ENTY:food")


def trec(split, per_label):
    rows, seen = [], {}
    for line in (DATA / "trec.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["split"] == split and row["label"] in FINE and seen.get(row["label"], 0) < per_label:
            seen[row["label"]] = seen.get(row["label"], 0) + 1
            rows.append(row)
    return rows


@pytest.fixture(scope="module")
def int8_encoder_cache(tmp_path_factory):
    """The onnx-int8 encoder export (what LONGTAIL_ENCODER_BACKEND=onnx-int8 builds on its first
    encode), copied once for the module from the run's shared export (tests/encoder_exports.py) and
    copied again into each test's artifact folder."""
    from django.conf import settings

    return copy_exports(tmp_path_factory.mktemp("int8"), settings.LONGTAIL_MODEL_PATH) / "encoders"


@pytest.fixture
def trec_project(db, eager_celery, make_user, settings, tmp_path, django_capture_on_commit_callbacks):
    """A coarse → fine project of 300 trec questions (12 fine labels under 5 coarse ones), half of
    them imported with their labels; v1 trained by the real retrain pipeline on the torch encoder."""
    from labeling.annotations.models import Annotation
    from labeling.items.models import Item
    from labeling.projects.models import Label, Project, Source
    from learner.text import text_hash

    settings.LONGTAIL_ARTIFACT_DIR = tmp_path / "artifacts"
    settings.LONGTAIL_ENCODER_CACHE_ROOT = None  # the exports under this artifact folder, as the tests lay them out
    settings.LONGTAIL_ENCODER_BACKEND = "torch"
    project = Project.objects.create(slug="trec-out", name="Trec out", hierarchy_mode="hierarchical")
    source = Source.objects.create(project=project, name="questions", quota=1.0)
    coarse = {name: Label.objects.create(project=project, name=name, order=i)
              for i, name in enumerate(sorted({f.split(":")[0] for f in FINE}))}
    labels = dict(coarse)
    for name in FINE:
        labels[name] = Label.objects.create(project=project, name=name, parent=coarse[name.split(":")[0]],
                                            order=len(labels))
    pool = trec("train", 25)
    items = Item.objects.bulk_create([Item(project=project, source=source, text=r["text"], text_hash=text_hash(r["text"]),
                                           external_id=f"t{i}") for i, r in enumerate(pool)])
    Annotation.objects.bulk_create([Annotation(project=project, item=item, label=labels[r["label"]], origin=Annotation.IMPORT)
                                    for item, r in list(zip(items, pool, strict=True))[::2]])
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    admin = APIClient()
    admin.force_authenticate(make_user("root", superuser=True))
    return {"project": project, "labels": labels, "admin": admin}


def bundle(api, project, version=None) -> zipfile.ZipFile:
    response = api.get(f"/api/projects/{project.slug}/export/model/", {"version": version} if version else {})
    assert response.status_code == 200, response.content[:300]
    return zipfile.ZipFile(io.BytesIO(response.content))


def predict(api, project, texts) -> dict:
    response = api.post(f"/api/projects/{project.slug}/predict/", {"texts": texts}, format="json")
    assert response.status_code == 200, response.content[:300]
    return response.json()


def outside(zipped: zipfile.ZipFile, where: Path, texts, model_path) -> dict:
    """The bundle unzipped and used in a fresh interpreter, as its README says: the head from
    head.bin and the encoder model.json names, loaded from a local copy (no Django, no database)."""
    where.mkdir()
    zipped.extractall(where)
    meta = json.loads((where / "model.json").read_text())
    script = f"""
import json
from sentence_transformers import SentenceTransformer
from learner.training import TrainedClassifier

head = TrainedClassifier.from_bytes(open("head.bin", "rb").read())
encoder = SentenceTransformer({str(model_path)!r})   # the local copy of {meta["encoder"]}
X = encoder.encode({list(texts)!r}, normalize_embeddings=True)
print(json.dumps({{"decisions": head.decide(X), "proba": head.predict_proba(X).tolist()}}, default=float))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=900,
                         cwd=str(where))
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["label_map"] = meta["label_map"]
    return result


def differences(server: dict, local: dict) -> list:
    """Where the server's predict rows and the bundle's decisions disagree (probabilities beyond
    the API's rounding to 4 decimals)."""
    found = []
    for i, (row, decision) in enumerate(zip(server["results"], local["decisions"], strict=True)):
        for key in ("label", "coarse_label", "needs_review", "fallback"):
            if row.get(key) != decision.get(key):
                found.append((i, key, row.get(key), decision.get(key)))
        off = max(abs(row["probabilities"][name] - p) for name, p in zip(local["label_map"], local["proba"][i], strict=True))
        if off > 1e-4:
            found.append((i, "probabilities", round(off, 4)))
    return found


def test_bundle_outside_the_server_answers_as_predict_and_export_rows_are_the_answers(
        trec_project, tmp_path, settings, make_user, django_capture_on_commit_callbacks):
    """Held: on the torch encoder the bundle answers as the predict API, older versions still export
    after a retrain, and the export's rows carry the waves, strategies and disputes the answers have."""
    from labeling.projects.models import Membership
    from labeling.waves.models import WaveItem

    project, labels, api = trec_project["project"], trec_project["labels"], trec_project["admin"]
    truth = {json.loads(x)["text"]: json.loads(x)["label"] for x in (DATA / "trec.jsonl").read_text().splitlines()}
    users = [make_user("ann"), make_user("bob")]
    for user in users:
        Membership.objects.create(project=project, user=user, role=Membership.ANNOTATOR)
    answered: dict[int, list] = {}
    for user in users:  # each leases the open wave and answers; bob gives a sibling label on second answers
        client = APIClient()
        client.force_authenticate(user)
        for _ in range(8):  # not the whole wave: a completed wave queues a retrain of its own
            items = client.post(f"/api/projects/{project.slug}/batches/", {"size": 10}, format="json").json()["items"]
            if not items:
                break
            for entry in items:
                name = truth[entry["text"]]
                if user is users[1] and entry["item"] in answered:
                    name = next(f for f in FINE if f != name and f.split(":")[0] == name.split(":")[0])
                r = client.post(f"/api/projects/{project.slug}/annotations/",
                                {"client_id": str(uuid.uuid4()), "assignment": entry["assignment"],
                                 "label": labels[name].pk}, format="json")
                assert r.status_code in (200, 201), r.content
                answered.setdefault(entry["item"], []).append((user.username, name))
    rows = [json.loads(x) for x in b"".join(api.get(f"/api/projects/{project.slug}/export/jsonl/").streaming_content)
            .decode().splitlines()]
    picks = {wi.item_id: wi for wi in WaveItem.objects.filter(wave__project=project).select_related("wave")}
    disputed = {item for item, given in answered.items() if len({name for _, name in given}) > 1}
    assert disputed
    for row in rows:
        if row["item_id"] in answered:
            pick = picks[row["item_id"]]
            assert (row["wave"], row["strategy"], row["inclusion_prob"]) == (pick.wave.number, pick.strategy,
                                                                             pick.inclusion_prob)
            assert row["annotators"] == sorted({u for u, _ in answered[row["item_id"]]})
            assert [(v["annotator"], v["label"]) for v in row["votes"]] == answered[row["item_id"]]
            assert row["disputed"] == (row["item_id"] in disputed)
        else:
            assert row["label_source"] == "import" and row["wave"] is None

    probes = [r["text"] for r in trec("test", 6)]
    first = bundle(api, project)
    assert json.loads(first.read("model.json"))["version"] == 1
    assert differences(predict(api, project, probes), outside(first, tmp_path / "v1", probes,
                                                                settings.LONGTAIL_MODEL_PATH)) == []
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    older = bundle(api, project, 1)  # retired now: it still exports, the same head
    assert json.loads(older.read("model.json"))["state"] == "retired"
    assert older.read("head.bin") == first.read("head.bin")


def test_bundle_of_a_model_trained_on_onnx_int8_answers_as_predict(trec_project, int8_encoder_cache, tmp_path,
                                                                    settings, django_capture_on_commit_callbacks):
    """A deployment with CPU workers sets LONGTAIL_ENCODER_BACKEND=onnx-int8 (docs/encoder.md) and
    retrains; the data scientist exports the new model and follows its README."""
    project, api = trec_project["project"], trec_project["admin"]
    shutil.copytree(int8_encoder_cache, settings.LONGTAIL_ARTIFACT_DIR / "encoders")
    settings.LONGTAIL_ENCODER_BACKEND = "onnx-int8"
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    probes = [r["text"] for r in trec("test", 4)]
    server = predict(api, project, probes)
    assert server["model_version"] == 2
    v2 = bundle(api, project)
    meta = json.loads(v2.read("model.json"))
    assert meta["config"]["embedding_model"] == "all-MiniLM-L6-v2+onnx-int8"  # what it trained on
    readme = v2.read("README.md").decode()
    found = differences(server, outside(v2, tmp_path / "v2", probes, settings.LONGTAIL_MODEL_PATH))
    # Either the bundle, used as its README says, answers as the server does, or it says that its
    # head reads int8 vectors (so that nobody takes the stock encoder's answers for the server's).
    said = "int8" in f"{meta['encoder']} {meta['encoder_kind']} {readme.split('Load and use')[0]}"
    assert found == [] or said, (
        f"{len({d[0] for d in found})} of {len(probes)} texts answer otherwise outside the server than from the "
        f"predict API, and model.json names the encoder {meta['encoder']!r} (kind {meta['encoder_kind']!r}) with "
        f"a README that loads the stock model: {found[:8]}")


def test_older_version_keeps_answering_as_its_bundle_after_the_encoder_setting_changes(
        trec_project, int8_encoder_cache, tmp_path, settings):
    """v1 trained on the fp32 encoder; the setting then changes to onnx-int8 (no retrain yet). v1 is
    still the active model: the predict API must still answer as v1's bundle does."""
    project, api = trec_project["project"], trec_project["admin"]
    probes = [r["text"] for r in trec("test", 4)]
    v1 = bundle(api, project)
    assert differences(predict(api, project, probes), outside(v1, tmp_path / "before", probes,
                                                                settings.LONGTAIL_MODEL_PATH)) == []
    shutil.copytree(int8_encoder_cache, settings.LONGTAIL_ARTIFACT_DIR / "encoders")
    settings.LONGTAIL_ENCODER_BACKEND = "onnx-int8"
    server = predict(api, project, probes)
    assert server["model_version"] == 1
    assert bundle(api, project).read("head.bin") == v1.read("head.bin")
    found = differences(server, outside(v1, tmp_path / "after", probes, settings.LONGTAIL_MODEL_PATH))
    assert found == [], (f"after the encoder setting changed, {len({d[0] for d in found})} of {len(probes)} texts "
                         f"answer otherwise from the predict API than from the same version's bundle: {found[:8]}")
