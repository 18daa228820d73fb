"""A model version is served by the encoder it trained on (its recorded ``config.embedding_model``),
whatever LONGTAIL_ENCODER_BACKEND says later, and the bundle of a version trained on the 8-bit ONNX
encoder ships that encoder: its README's own code, run in a fresh interpreter (no Django, no
database), answers as the server's predict API does.

Real data (trec questions, coarse → fine), the real retrain pipeline (eager Celery) and the real
encoders; the int8 export is copied once for the module from the run's shared export
(tests/encoder_exports.py)."""
import json
import os
import re
import subprocess
import sys

from tests import test_loop_helpers as helpers
from tests import test_round40_offline_bundle as offline
from tests.test_round40_offline_bundle import ROOT, bundle, differences, predict, trec

eager_celery = helpers.eager_celery
trec_project = offline.trec_project  # 300 trec questions, v1 trained on the torch encoder
int8_encoder_cache = offline.int8_encoder_cache


def readme_code(readme: str) -> str:
    """The README's Python block."""
    found = re.search(r"```python\n(.*?)```", readme, re.S)
    assert found, readme
    return found.group(1)


def run_readme(zipped, where, texts) -> dict:
    """The README's code, unzipped beside it and run as written in a fresh interpreter, on ``texts``
    instead of its example text; returns its decisions and probabilities."""
    where.mkdir()
    zipped.extractall(where)
    code = readme_code(zipped.read("README.md").decode())
    assert '["my card was charged twice"]' in code
    code = code.replace('["my card was charged twice"]', repr(list(texts)))
    code = code.replace("for decision in head.decide(X):\n    print(decision)", "")
    code += ('\nimport json\nprint(json.dumps({"decisions": head.decide(X), "proba": head.predict_proba(X).tolist()},'
             ' default=float))\n')
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900,
                         cwd=str(where))
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["label_map"] = json.loads(zipped.read("model.json"))["label_map"]
    return result


def stored_scores(version):
    from labeling.modeling.models import ItemScore

    return {s.item_id: (bytes(s.probs), s.top_label) for s in ItemScore.objects.filter(model_version=version)}


def test_int8_version_ships_its_encoder_and_keeps_answering_with_it_after_the_setting_changes(
        trec_project, int8_encoder_cache, tmp_path, settings, django_capture_on_commit_callbacks):
    import shutil

    from labeling.modeling.scores import score_items
    from labeling.modeling.versions import active_model

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
    assert (meta["encoder_kind"], meta["encoder_backend"], meta["encoder"]) == (
        "frozen-int8", "onnx-int8", "encoder/model-int8.onnx")
    assert 0 < meta["encoder_build"]["mean_cosine_distance"] < 1e-3
    names = set(v2.namelist())
    assert {"encoder/model-int8.onnx", "encoder/tokenizer.json", "encoder/modules.json"} <= names
    assert "encoder/model.safetensors" not in names  # not the fp32 weights: nothing to mistake for them
    assert "int8" in v2.read("README.md").decode().split("Load and use")[0]
    assert differences(server, run_readme(v2, tmp_path / "v2", probes)) == []

    # The deployment goes back to the fp32 encoder (say a GPU worker joins): v2 stays active until a
    # retrain and keeps answering from the int8 vectors it was trained on, in predict and in stored scores.
    version = active_model(project)
    before = stored_scores(version)
    settings.LONGTAIL_ENCODER_BACKEND = "torch"
    fresh = [r["text"] for r in trec("test", 6) if r["text"] not in probes]  # not embedded yet: encoded now
    again = predict(api, project, fresh)
    assert again["model_version"] == 2
    assert differences(again, run_readme(v2, tmp_path / "v2-after", fresh)) == []
    some = sorted(before)[:40]
    assert score_items(version, some) == len(some)
    after = stored_scores(version)
    assert [after[i] for i in some] == [before[i] for i in some]

    # An exporting host whose export cache lacks the int8 file ships none and says how far off the stock model is.
    shutil.rmtree(settings.LONGTAIL_ARTIFACT_DIR / "encoders")
    bare = bundle(api, project)
    meta = json.loads(bare.read("model.json"))
    assert (meta["encoder_kind"], meta["encoder"]) == ("frozen-int8", "all-MiniLM-L6-v2+onnx-int8")
    assert not [name for name in bare.namelist() if name.startswith("encoder/")]
    files = bare.read("README.md").decode().split("Load and use")[0]
    assert "No encoder file" in files and "cosine distance" in files, files


def test_a_version_whose_recorded_encoder_cannot_be_built_here_is_refused_with_the_reason(trec_project):
    from labeling.modeling.versions import active_model

    project, api = trec_project["project"], trec_project["admin"]
    probes = [r["text"] for r in trec("test", 1)]
    first = predict(api, project, probes)
    assert first["model_version"] == 1
    version = active_model(project)
    version.config = {**version.config, "embedding_model": "paraphrase-multilingual-mpnet-base-v2"}
    version.save(update_fields=["config"])
    response = api.post(f"/api/projects/{project.slug}/predict/", {"texts": ["a question nobody asked before"]},
                        format="json")
    assert response.status_code == 409, response.content[:300]
    detail = response.json()["detail"]
    assert "paraphrase-multilingual-mpnet-base-v2" in detail and "Retrain" in detail, detail
