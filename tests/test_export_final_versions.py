"""Exporting any trained model version, not only the active one: a final model that was not served
(ready) exports from the API, the export page and ``export_model``, with its fine-tuned encoder,
a model.json that names that encoder, and loads back with the documented snippet in a fresh
process; a final model whose encoder folder is not on this host is refused with the reason (never
a 500, never a bundle without its encoder); versions that are training or failed, unknown numbers
and malformed ones are refused; only leads and admins export."""
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from labeling.modeling.artifact_paths import encoder_folder_path
from labeling.modeling.models import ModelVersion
from labeling.projects.models import Membership
from tests import test_loop_helpers as helpers

ROOT = Path(__file__).resolve().parent.parent
eager_celery = helpers.eager_celery
PROBES = ["billing amber request now", "login cedar request again", "fraud onyx request here"]


def bundle_of(response) -> zipfile.ZipFile:
    assert response.status_code == 200, getattr(response, "content", b"")[:500]
    assert response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content))


def documented_snippet() -> str:
    """The snippet of docs/loop.md's "Final model" section that loads an exported bundle."""
    text = (ROOT / "docs" / "loop.md").read_text(encoding="utf-8")
    section = text[text.index("## Final model"):]
    section = section[:section.find("\n## ", 1)] if "\n## " in section[1:] else section
    blocks = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if 'SentenceTransformer("encoder"' in b]
    assert blocks, "docs/loop.md's Final model section has no snippet loading the bundle's encoder/ folder"
    return blocks[0]


# --- a real final model that was not served -------------------------------------------------------
@pytest.fixture
def unserved_final(db, project_factory, eager_celery, settings, tmp_path, make_user,
                   django_capture_on_commit_callbacks):
    """A project whose frozen model serves (active) and whose final model (a real, tiny fine-tune)
    stayed ready, as one that did not beat the frozen one out of fold does (trained here without the
    comparison, which is not what this file checks, so it is never served)."""
    from labeling.modeling.final import train_final_version
    from labeling.modeling.versions import active_model

    # no out-of-fold comparison (folds 0): one fine-tuning instead of three, and a final model without
    # the comparison is never served, so it stays ready as this fixture needs
    settings.LONGTAIL_FINETUNE = {**helpers.TINY_FINETUNE, "folds": 0}
    settings.LONGTAIL_ARTIFACT_DIR = tmp_path / "artifacts"
    project, _ = helpers.build_project(project_factory, slug="unserved", n_items=60, n_labeled=24)
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    frozen = active_model(project)
    assert frozen is not None, run.message
    final = train_final_version(project)
    final.refresh_from_db()
    assert final.state == ModelVersion.READY and final.config["encoder_dir"]
    assert active_model(project).pk == frozen.pk
    return {"project": project, "frozen": frozen, "final": final, "admin": make_user("root", superuser=True)}


def test_unserved_final_model_exports_with_its_encoder_and_loads_in_a_fresh_process(unserved_final, tmp_path):
    from learner.finetune.contrastive import encode, load_encoder
    from learner.training import TrainedClassifier

    project, frozen, final = unserved_final["project"], unserved_final["frozen"], unserved_final["final"]
    api = APIClient()
    api.force_authenticate(unserved_final["admin"])
    # the default is still the active (frozen) model, on the stock encoder
    default = bundle_of(api.get(f"/api/projects/{project.slug}/export/model/"))
    meta = json.loads(default.read("model.json"))
    assert meta["version"] == frozen.number and meta["encoder"] == "all-MiniLM-L6-v2"
    assert not any(name.startswith("encoder/") for name in default.namelist())

    response = api.get(f"/api/projects/{project.slug}/export/model/", {"version": final.number})
    assert response["Content-Disposition"] == f'attachment; filename="{project.slug}-model-v{final.number}.zip"'
    bundle = bundle_of(response)
    names = bundle.namelist()
    assert {"head.bin", "model.json", "metrics.json", "README.md", "encoder/config.json", "encoder/modules.json"} <= set(names)
    meta = json.loads(bundle.read("model.json"))
    assert (meta["version"], meta["state"]) == (final.number, "ready")
    # model.json names what the bundle needs: its own encoder/ folder, fine-tuned from the base model
    assert meta["encoder"] == "encoder/" and meta["encoder_kind"] == "fine-tuned"
    assert meta["base_encoder"] == "all-MiniLM-L6-v2"
    readme = bundle.read("README.md").decode()
    assert 'SentenceTransformer("encoder", local_files_only=True)' in readme
    assert "/path/to/all-MiniLM-L6-v2" not in readme  # never told to load the stock encoder
    assert bundle.read("head.bin") == bytes(final.artifact)

    # the export page offers every trained version, the active one chosen by default
    page = APIClient()
    page.force_login(unserved_final["admin"])
    html = page.get(f"/p/{project.slug}/export/").content.decode()
    assert f'<option value="{final.number}">v{final.number} · ready · final model' in html
    assert f'<option value="{frozen.number}" selected>' in html
    from_page = bundle_of(page.get(f"/p/{project.slug}/export/model.zip", {"version": final.number}))
    assert json.loads(from_page.read("model.json"))["version"] == final.number
    out = tmp_path / "final.zip"
    call_command("export_model", project.slug, "--model-version", str(final.number), "--out", str(out))
    assert "encoder/config.json" in zipfile.ZipFile(out).namelist()

    # unzipped elsewhere, it loads with docs/loop.md's snippet in a fresh, offline interpreter
    unzipped = tmp_path / "bundle"
    bundle.extractall(unzipped)
    script = (documented_snippet() + "\nimport json\n"
              f"P = encoder.encode({PROBES!r}, normalize_embeddings=True)\n"
              "print(json.dumps({'proba': head.predict_proba(P).tolist(), "
              "'labels': [d['label'] for d in head.decide(P)]}))\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600,
                         cwd=str(unzipped))
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    # the same predictions as the version's own encoder folder and head
    X = encode(load_encoder(str(encoder_folder_path(final)), "cpu"), PROBES)
    head = TrainedClassifier.from_bytes(bytes(final.artifact))
    assert np.allclose(got["proba"], head.predict_proba(X), atol=1e-4)
    assert got["labels"] == [d["label"] for d in head.decide(X)]


# --- versions made directly (no fine-tuning): choice, refusals, permissions -------------------------
def _head_bytes():
    from learner.training import train_classifier

    rng = np.random.default_rng(0)
    y = np.repeat(["billing", "login", "fraud"], 20)
    X = (rng.normal(size=(3, 16))[np.repeat([0, 1, 2], 20)] + 0.3 * rng.normal(size=(60, 16))).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    clf = train_classifier(X, y)
    return clf.to_bytes(), list(clf.classes_)


def _version(project, number, state, head, label_map, **config):
    return ModelVersion.objects.create(project=project, number=number, state=state, artifact=head,
                                       label_map=label_map, train_size=60, temperature=1.0,
                                       config={"kind": "final" if "encoder_dir" in config else "retrain", **config})


def _encoder_folder(path: Path, *, complete=True) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "model.safetensors").write_bytes(b"weights")
    if complete:
        (path / "modules.json").write_text("[]")
    return path


@pytest.fixture
def versions(project_factory, make_user, tmp_path):
    project = project_factory("vers")
    head, label_map = _head_bytes()
    made = {
        "retired": _version(project, 1, ModelVersion.RETIRED, head, label_map),
        "active": _version(project, 2, ModelVersion.ACTIVE, head, label_map,
                           encoder_dir=str(_encoder_folder(tmp_path / "final-v2" / "encoder")),
                           embedding_model="all-MiniLM-L6-v2", encoder_model_id="all-MiniLM-L6-v2+ft-vers-v2"),
        "ready": _version(project, 3, ModelVersion.READY, head, label_map),
        "failed": _version(project, 4, ModelVersion.FAILED, head, label_map),
        "gone": _version(project, 5, ModelVersion.READY, head, label_map,
                         encoder_dir=str(tmp_path / "elsewhere" / "final-v5" / "encoder")),
        "partial": _version(project, 6, ModelVersion.READY, head, label_map,
                            encoder_dir=str(_encoder_folder(tmp_path / "final-v6" / "encoder", complete=False))),
        "training": ModelVersion.objects.create(project=project, number=7, state=ModelVersion.TRAINING),
    }
    users = {"admin": make_user("root", superuser=True), "lead": make_user("lena"), "ann": make_user("ann"),
             "otto": make_user("otto")}
    Membership.objects.create(user=users["lead"], project=project, role=Membership.LEAD)
    Membership.objects.create(user=users["ann"], project=project, role=Membership.ANNOTATOR)
    return {"project": project, **made, **users}


URL = "/api/projects/vers/export/model/"


def test_any_ready_active_or_retired_version_exports_and_others_are_refused(versions):
    api = APIClient()
    api.force_authenticate(versions["admin"])
    # the served final model: model.json names its own encoder folder, not the stock model
    default = bundle_of(api.get(URL))
    meta = json.loads(default.read("model.json"))
    assert meta["version"] == 2 and meta["encoder"] == "encoder/" and meta["base_encoder"] == "all-MiniLM-L6-v2"
    assert sorted(n for n in default.namelist() if n.startswith("encoder/")) == [
        "encoder/config.json", "encoder/model.safetensors", "encoder/modules.json"]
    assert "fine-tuned encoder in `encoder/` (from all-MiniLM-L6-v2)" in default.read("README.md").decode()
    for key in ("retired", "ready"):
        meta = json.loads(bundle_of(api.get(URL, {"version": versions[key].number})).read("model.json"))
        assert (meta["version"], meta["state"]) == (versions[key].number, key)
        assert meta["encoder"] == "all-MiniLM-L6-v2" and meta["encoder_kind"] == "frozen"

    for raw, status, reason in ((4, 409, "is failed"), (7, 409, "is training"), (99, 404, "no model version 99"),
                                ("abc", 400, "must be a model version number"), ("0", 400, "must be a model version number"),
                                ("-1", 400, "must be a model version number")):
        answer = api.get(URL, {"version": raw})
        assert answer.status_code == status and reason in answer.json()["detail"], (raw, answer.content)


def test_final_version_without_its_encoder_folder_is_refused_everywhere(versions, client, tmp_path):
    api = APIClient()
    api.force_authenticate(versions["admin"])
    # the served final model, once its folder is gone: refused, not exported without it
    shutil.rmtree(versions["active"].config["encoder_dir"])
    answer = api.get(URL)
    assert answer.status_code == 409 and "Model version 2 is a final model" in answer.json()["detail"]
    for key, missing in (("gone", "the folder"), ("partial", "modules.json")):
        answer = api.get(URL, {"version": versions[key].number})
        assert answer.status_code == 409, answer.content
        detail = answer.json()["detail"]
        assert versions[key].config["encoder_dir"] in detail and f"missing: {missing}" in detail
        assert "Nothing was exported" in detail and "predict wrongly" in detail
    client.force_login(versions["admin"])
    page = client.get("/p/vers/export/model.zip", {"version": 5}, follow=True)
    assert page.status_code == 200 and page.redirect_chain[-1][0] == "/p/vers/export/"
    assert "is a final model, but its fine-tuned encoder folder" in page.content.decode()
    with pytest.raises(CommandError, match="fine-tuned encoder folder .* not complete on this host"):
        call_command("export_model", "vers", "--model-version", "5", "--out", str(tmp_path / "x.zip"))
    assert not (tmp_path / "x.zip").exists()


def test_version_choice_on_the_page_and_command_and_who_may_export(versions, client, tmp_path):
    client.force_login(versions["lead"])
    html = client.get("/p/vers/export/").content.decode()
    options = re.findall(r'<option value="(\d+)"', html)
    assert options == ["6", "5", "3", "2", "1"]  # ready, active and retired; not failed or training
    assert '<option value="2" selected>v2 · active · final model (fine-tuned encoder)</option>' in html
    assert 'action="/p/vers/export/model.zip"' in html and "?version=N" in html
    meta = json.loads(bundle_of(client.get("/p/vers/export/model.zip", {"version": 1})).read("model.json"))
    assert meta["version"] == 1
    refused = client.get("/p/vers/export/model.zip", {"version": 4}, follow=True)
    assert "Model version 4 is failed" in refused.content.decode()

    out = tmp_path / "v3.zip"
    call_command("export_model", "vers", "--model-version", "3", "--out", str(out))
    assert json.loads(zipfile.ZipFile(out).read("model.json"))["version"] == 3
    with pytest.raises(CommandError, match="no model version 42"):
        call_command("export_model", "vers", "--model-version", "42", "--out", str(out))

    api = APIClient()
    api.force_authenticate(versions["lead"])
    assert api.get(URL, {"version": 3}).status_code == 200
    api.force_authenticate(versions["ann"])
    assert api.get(URL, {"version": 3}).status_code == 403
    assert client.get("/p/vers/export/model.zip", {"version": 3}).status_code == 200  # still the lead's session
    client.force_login(versions["ann"])
    assert client.get("/p/vers/export/model.zip", {"version": 3}).status_code == 403
    api.force_authenticate(versions["otto"])
    assert api.get(URL, {"version": 3}).status_code == 404
