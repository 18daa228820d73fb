"""Export: labeled items as streamed CSV / JSONL (resolved labels, agreement, wave, strategy,
inclusion probability, duplicate group, reproducible group-aware split, CSV-injection guard,
optional exact duplicates), the management commands, and the model bundle."""
import csv
import io
import json
import uuid
import zipfile
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation, Assignment
from labeling.export import services
from labeling.export.formats import csv_format
from labeling.items.models import Item
from labeling.modeling.models import ModelVersion
from labeling.projects.models import Label, Membership
from labeling.waves.models import Wave, WaveItem
from learner.text import text_hash

pytestmark = pytest.mark.django_db



@pytest.fixture
def world(make_user, project_factory):
    alpha = project_factory("alpha", labels=("payments", "card fraud", "phishing"))
    fraud = Label.objects.get(project=alpha, name="card fraud")
    payments = Label.objects.get(project=alpha, name="payments")
    fraud.parent = payments  # two levels: "card fraud" is a fine label under "payments"
    fraud.save()
    users = {"admin": make_user("root", superuser=True), "lead": make_user("lena"),
             "ann": make_user("ann"), "bob": make_user("bob"), "cat": make_user("cat"),
             "outsider": make_user("otto")}
    Membership.objects.create(user=users["lead"], project=alpha, role=Membership.LEAD)
    for name in ("ann", "bob", "cat"):
        Membership.objects.create(user=users[name], project=alpha, role=Membership.ANNOTATOR)
    return {"alpha": alpha, **users}


def make_item(project, text, *, group=None):
    item = Item.objects.create(project=project, source=project.sources.first(), text=text, text_hash=text_hash(text))
    item.dup_group = group or item.pk
    item.save(update_fields=["dup_group"])
    return item


def answer(item, user, label_name, *, pick=None, origin=Annotation.ANNOTATOR):
    lease = None
    if pick is not None:
        lease = Assignment.objects.create(wave_item=pick, annotator=user, state=Assignment.DONE,
                                          expires_at=timezone.now() + timedelta(hours=1))
    label = Label.objects.get(project=item.project, name=label_name)
    return Annotation.objects.create(project=item.project, item=item, annotator=user, assignment=lease, label=label,
                                     origin=origin, client_id=uuid.uuid4())


@pytest.fixture
def labeled(world):
    """40 labeled items (two near-duplicate groups of 4), a majority vote, an adjudicated
    disagreement, formula-like texts, an undone and a skipped answer, and unlabeled duplicates."""
    alpha, ann, bob, lead = world["alpha"], world["ann"], world["bob"], world["lead"]
    wave = Wave.objects.create(project=alpha, number=1, state=Wave.OPEN, size=40)
    items = {}
    names = ["payments", "card fraud", "phishing"]
    for i in range(40):
        text = f"message number {'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN'[i]} about things"
        if i < 4:
            text = f"group A text {'wxyz'[i]}"
        elif i < 8:
            text = f"group B text {'wxyz'[i - 4]}"
        item = make_item(alpha, text)
        if 1 <= i < 4:
            item.dup_group = items[0].pk
        elif 5 <= i < 8:
            item.dup_group = items[4].pk
        item.save(update_fields=["dup_group"])
        items[i] = item
        pick = WaveItem.objects.create(wave=wave, item=item, strategy="rare" if i % 2 else "uncertainty",
                                       inclusion_prob=0.5 if i % 2 else 0.25, position=i)
        answer(item, ann, names[i % 3], pick=pick)
    formula = make_item(alpha, "=HYPERLINK(\"http://evil\")")
    answer(formula, ann, "phishing")
    minus = make_item(alpha, "-2+3 is a weird ticket")
    answer(minus, ann, "payments")
    # Majority: ann + bob say phishing, cat says payments.
    voted = make_item(alpha, "please verify your account at this link")
    for user, name in ((ann, "phishing"), (bob, "phishing"), (world["cat"], "payments")):
        answer(voted, user, name)
    # Disagreement settled by the lead: adjudication wins over the majority.
    settled = make_item(alpha, "card charged abroad")
    answer(settled, ann, "payments")
    answer(settled, bob, "payments")
    answer(settled, lead, "card fraud", origin=Annotation.ADJUDICATION)
    # Undone and skipped answers do not label an item.
    undone = make_item(alpha, "undone one")
    a = answer(undone, ann, "payments")
    a.undone = True
    a.save()
    skipped = make_item(alpha, "skipped one")
    Annotation.objects.create(project=alpha, item=skipped, annotator=ann, skipped=True, client_id=uuid.uuid4())
    # Unlabeled exact duplicates (same normalized text) of a labeled item.
    dup1 = make_item(alpha, "CARD charged   abroad")
    dup2 = make_item(alpha, "card charged abroad")
    make_item(alpha, "never labeled at all")
    return {"items": items, "voted": voted, "settled": settled, "formula": formula, "minus": minus,
            "undone": undone, "skipped": skipped, "dups": (dup1, dup2)}


def rows_of(project, fmt="jsonl", **kwargs):
    text = "".join(services.stream_export(project, fmt, **kwargs))
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    return list(csv.DictReader(io.StringIO(text)))


def test_jsonl_rows(world, labeled):
    rows = rows_of(world["alpha"])
    assert len(rows) == 44  # 40 + formula + minus + voted + settled; not undone / skipped / unlabeled
    assert all(list(r) == [*csv_format.COLUMNS, "metadata"] for r in rows)  # same keys, same order, every line
    by_id = {r["item_id"]: r for r in rows}
    assert labeled["undone"].pk not in by_id and labeled["skipped"].pk not in by_id
    voted = by_id[labeled["voted"].pk]
    assert voted["label"] == "phishing" and voted["label_source"] == "annotator"
    assert voted["annotators"] == ["ann", "bob", "cat"] and voted["agreement"] == round(2 / 3, 4)
    settled = by_id[labeled["settled"].pk]
    assert settled["label"] == "card fraud" and settled["coarse_label"] == "payments"
    assert settled["label_source"] == "adjudication" and settled["agreement"] == 0.0
    first = by_id[labeled["items"][1].pk]
    assert (first["wave"], first["strategy"], first["inclusion_prob"]) == (1, "rare", 0.5)
    assert first["annotators"] == ["ann"] and first["agreement"] == 1.0
    assert by_id[labeled["formula"].pk]["wave"] is None  # no wave pick
    assert {r["split"] for r in rows} <= {"train", "val", "test"}
    assert {r["split"] for r in rows} >= {"train"}


def test_split_is_group_aware_and_reproducible(world, labeled):
    rows = rows_of(world["alpha"])
    groups = {}
    for r in rows:
        groups.setdefault(r["dup_group"], set()).add(r["split"])
    assert all(len(splits) == 1 for splits in groups.values())
    assert len(groups[labeled["items"][0].pk]) == 1 and len(groups[labeled["items"][4].pk]) == 1
    again = rows_of(world["alpha"])
    assert [r["split"] for r in again] == [r["split"] for r in rows]
    other_seed = rows_of(world["alpha"], seed=7)
    assert [r["item_id"] for r in other_seed] == [r["item_id"] for r in rows]


def test_csv_neutralises_formulas_and_parses(world, labeled):
    rows = rows_of(world["alpha"], "csv")
    assert list(rows[0]) == csv_format.COLUMNS
    by_id = {int(r["item_id"]): r for r in rows}
    assert by_id[labeled["formula"].pk]["text"] == "'=HYPERLINK(\"http://evil\")"
    assert by_id[labeled["minus"].pk]["text"] == "'-2+3 is a weird ticket"
    assert by_id[labeled["voted"].pk]["annotators"] == "ann;bob;cat"
    assert by_id[labeled["formula"].pk]["wave"] == ""
    assert csv_format.neutralise("@SUM(1)") == "'@SUM(1)" and csv_format.neutralise("+1") == "'+1"
    assert csv_format.neutralise("fine") == "fine" and csv_format.neutralise(3) == 3
    # a leading ' gets one more: every leading ' of a guarded file is the guard's (a re-import takes one off)
    assert csv_format.neutralise("'quoted'") == "''quoted'" and csv_format.neutralise("it's") == "it's"


def test_exports_load_with_pandas(world, labeled, tmp_path):
    pandas = pytest.importorskip("pandas")
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(services.stream_export(world["alpha"], "jsonl")), encoding="utf-8")
    frame = pandas.read_json(path, lines=True)
    assert list(frame.columns) == [*csv_format.COLUMNS, "metadata"] and len(frame) == 44
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("".join(services.stream_export(world["alpha"], "csv")), encoding="utf-8")
    frame = pandas.read_csv(csv_path)
    assert len(frame) == 44 and set(frame["split"]) <= {"train", "val", "test"}


def test_duplicates_optionally_inherit_the_label(world, labeled):
    rows = rows_of(world["alpha"], include_duplicates=True)
    dups = [r for r in rows if r["label_source"] == "duplicate"]
    assert sorted(r["item_id"] for r in dups) == sorted(d.pk for d in labeled["dups"])
    settled = next(r for r in rows if r["item_id"] == labeled["settled"].pk)
    for row in dups:
        assert row["label"] == "card fraud" and row["split"] == settled["split"]
        assert list(row) == [*csv_format.COLUMNS, "metadata"]
    assert len(rows_of(world["alpha"])) == len(rows) - 2


def test_export_streams_in_chunks(world, labeled):
    small = rows_of(world["alpha"], include_duplicates=True)
    project = world["alpha"]
    with CaptureQueriesContext(connection) as few:
        list(services.iter_rows(project, chunk_size=1000))
    with CaptureQueriesContext(connection) as many:
        chunked = list(services.iter_rows(project, chunk_size=5, include_duplicates=True))
    assert [r["item_id"] for r in chunked] == [r["item_id"] for r in small]
    # Prefetching happens per chunk: queries grow with chunks (44 rows / 5), not with rows.
    assert len(few.captured_queries) < 12
    assert len(many.captured_queries) < 12 + 9 * 5


def test_empty_project_exports_header_only(world):
    assert "".join(services.stream_export(world["alpha"], "csv")).strip() == ",".join(csv_format.COLUMNS)
    assert "".join(services.stream_export(world["alpha"], "jsonl")) == ""
    with pytest.raises(ValueError, match="Unknown export format 'xml'"):
        list(services.stream_export(world["alpha"], "xml"))


def test_page_and_api_downloads(client, world, labeled):
    client.force_login(world["lead"])
    response = client.get("/p/alpha/export/labels.csv?include_duplicates=1")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"].startswith('attachment; filename="alpha-labels-')
    body = b"".join(response.streaming_content).decode()
    assert len(list(csv.DictReader(io.StringIO(body)))) == 46
    assert client.get("/p/alpha/export/labels.xml").status_code == 404
    page = client.get("/p/alpha/export/").content.decode()
    assert 'href="/p/alpha/export/labels.jsonl"' in page and "No active model yet" in page

    api = APIClient()
    api.force_authenticate(world["lead"])
    response = api.get("/api/projects/alpha/export/jsonl/")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/x-ndjson")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 44 and json.loads(lines[0])["split"] in {"train", "val", "test"}
    api.force_authenticate(world["ann"])
    assert api.get("/api/projects/alpha/export/jsonl/").status_code == 403
    api.force_authenticate(world["outsider"])
    assert api.get("/api/projects/alpha/export/jsonl/").status_code == 404


def test_export_labels_command(world, labeled, tmp_path):
    out = tmp_path / "labels.csv"
    call_command("export_labels", "alpha", "--format", "csv", "--out", str(out), "--include-duplicates")
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 46 and sum(r["label_source"] == "duplicate" for r in rows) == 2
    out = tmp_path / "labels.jsonl"
    call_command("export_labels", "alpha", "--format", "jsonl", "--out", str(out))
    assert [json.loads(line)["item_id"] for line in out.read_text().splitlines()] == \
        [r["item_id"] for r in rows_of(world["alpha"])]
    with pytest.raises(CommandError, match="No project with the slug 'nope'"):
        call_command("export_labels", "nope", "--format", "csv", "--out", str(out))


def trained_version(project):
    """A real classifier head trained on synthetic embeddings, stored as the active version."""
    from learner.training import train_classifier

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 16))
    y = np.repeat(["payments", "card fraud", "phishing"], 40)
    X = (centers[np.repeat([0, 1, 2], 40)] + 0.3 * rng.normal(size=(120, 16))).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    clf = train_classifier(X, y)
    version = ModelVersion.objects.create(
        project=project, number=1, state=ModelVersion.ACTIVE, temperature=clf.temperature,
        thresholds=clf.thresholds, label_map=list(clf.classes_), metrics=json.loads(json.dumps(clf.report, default=float)),
        train_size=120, artifact=clf.to_bytes())
    return version, X, clf


def test_model_bundle(client, world, tmp_path):
    api = APIClient()
    api.force_authenticate(world["lead"])
    assert api.get("/api/projects/alpha/export/model/").status_code == 409
    client.force_login(world["lead"])
    response = client.get("/p/alpha/export/model.zip", follow=True)
    assert "no active model" in response.content.decode()

    version, X, clf = trained_version(world["alpha"])
    response = api.get("/api/projects/alpha/export/model/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(bundle.namelist()) == ["README.md", "head.bin", "metrics.json", "model.json"]
    meta = json.loads(bundle.read("model.json"))
    assert meta["label_map"] == list(clf.classes_) and meta["version"] == 1
    assert meta["thresholds"] == version.thresholds and meta["temperature"] == version.temperature
    assert "macro_f1" in json.dumps(json.loads(bundle.read("metrics.json")))
    assert "TrainedClassifier.from_bytes" in bundle.read("README.md").decode()
    from learner.training import TrainedClassifier

    head = TrainedClassifier.from_bytes(bundle.read("head.bin"))
    assert np.allclose(head.predict_proba(X[:5]), clf.predict_proba(X[:5]))

    api.force_authenticate(world["ann"])
    assert api.get("/api/projects/alpha/export/model/").status_code == 403
    out = tmp_path / "model.zip"
    call_command("export_model", "alpha", "--out", str(out))
    assert zipfile.ZipFile(out).read("head.bin") == bytes(version.artifact)


# --- fidelity: metadata, skip reasons, open disagreements, the formula guard, loaders ---------------
@pytest.fixture
def rich(world, labeled):
    """labeled, plus metadata, a skip beside a label, an open and a settled disagreement."""
    from labeling.annotations.models import ReviewTask

    alpha = world["alpha"]
    first, voted, settled = labeled["items"][1], labeled["voted"], labeled["settled"]
    Item.objects.filter(pk=first.pk).update(metadata={"channel": "web", "priority": 2, "note": "=1+1"})
    Item.objects.filter(pk=voted.pk).update(metadata={"channel": "app", "thread": {"replies": 3}})
    Annotation.objects.create(project=alpha, item=first, annotator=world["bob"], skipped=True,
                              skip_reason="not English", client_id=uuid.uuid4())
    ReviewTask.objects.create(project=alpha, item=voted, reason=ReviewTask.DISAGREEMENT)
    ReviewTask.objects.create(project=alpha, item=settled, reason=ReviewTask.DISAGREEMENT, resolved_at=timezone.now())
    return {**labeled, "first": first}


def test_metadata_skip_reasons_and_open_disagreements_are_exported(world, rich):
    by_id = {r["item_id"]: r for r in rows_of(world["alpha"])}
    first, voted, settled = by_id[rich["first"].pk], by_id[rich["voted"].pk], by_id[rich["settled"].pk]
    assert first["metadata"] == {"channel": "web", "priority": 2, "note": "=1+1"}  # JSONL: as stored
    assert first["skip_reasons"] == [{"annotator": "bob", "reason": "not English"}]
    assert first["label"] == "card fraud" and first["disputed"] is False
    assert voted["disputed"] is True and voted["label"] == "phishing"
    assert sorted((v["annotator"], v["label"]) for v in voted["votes"]) == [
        ("ann", "phishing"), ("bob", "phishing"), ("cat", "payments")]
    assert settled["disputed"] is False and settled["label_source"] == "adjudication"
    assert by_id[rich["items"][5].pk]["metadata"] == {} and by_id[rich["items"][5].pk]["skip_reasons"] == []

    rows = rows_of(world["alpha"], "csv")
    assert list(rows[0]) == [*csv_format.COLUMNS, "meta.channel", "meta.note", "meta.priority", "meta.thread"]
    csv_by_id = {int(r["item_id"]): r for r in rows}
    first_csv, voted_csv = csv_by_id[rich["first"].pk], csv_by_id[rich["voted"].pk]
    assert (first_csv["meta.channel"], first_csv["meta.priority"], first_csv["meta.thread"]) == ("web", "2", "")
    assert first_csv["meta.note"] == "'=1+1"  # metadata is guarded like the text
    assert json.loads(voted_csv["meta.thread"]) == {"replies": 3}
    assert voted_csv["disputed"] == "true" and first_csv["disputed"] == "false"
    assert len(json.loads(voted_csv["votes"])) == 3
    assert json.loads(first_csv["skip_reasons"]) == [{"annotator": "bob", "reason": "not English"}]


def test_formula_guard_can_be_switched_off_everywhere(client, world, rich, tmp_path):
    formula = rich["formula"].pk
    raw = {int(r["item_id"]): r for r in rows_of(world["alpha"], "csv", neutralise_formulas=False)}
    assert raw[formula]["text"] == "=HYPERLINK(\"http://evil\")" and raw[rich["first"].pk]["meta.note"] == "=1+1"
    guarded = {int(r["item_id"]): r for r in rows_of(world["alpha"], "csv")}
    assert guarded[formula]["text"] == "'=HYPERLINK(\"http://evil\")"
    # JSONL never changes a text, whichever the option.
    assert rows_of(world["alpha"], neutralise_formulas=True) == rows_of(world["alpha"], neutralise_formulas=False)

    client.force_login(world["lead"])
    page = client.get("/p/alpha/export/").content.decode()
    assert 'id="neutralise-formulas"' in page and "CSV injection" in page and "--no-neutralise-formulas" in page
    body = b"".join(client.get("/p/alpha/export/labels.csv?neutralise_formulas=0").streaming_content).decode()
    assert "\n" + str(formula) + ",," + '"=HYPERLINK(""http://evil"")"' in body.replace("\r\n", "\n")
    api = APIClient()
    api.force_authenticate(world["lead"])
    body = b"".join(api.get("/api/projects/alpha/export/csv/?neutralise_formulas=false").streaming_content).decode()
    assert '"=HYPERLINK(""http://evil"")"' in body and "'=HYPERLINK" not in body
    body = b"".join(api.get("/api/projects/alpha/export/csv/").streaming_content).decode()
    assert "'=HYPERLINK" in body
    out = tmp_path / "raw.csv"
    call_command("export_labels", "alpha", "--format", "csv", "--out", str(out), "--no-neutralise-formulas")
    with open(out, newline="", encoding="utf-8") as handle:
        assert {int(r["item_id"]): r["text"] for r in csv.DictReader(handle)}[formula] == "=HYPERLINK(\"http://evil\")"


def test_jsonl_loads_with_datasets_and_pandas_offline(world, rich, tmp_path, monkeypatch):
    import pandas

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets  # heavy (pyarrow); only this test needs it

    path = tmp_path / "labels.jsonl"
    path.write_text("".join(services.stream_export(world["alpha"], "jsonl", include_duplicates=True)), encoding="utf-8")
    expected = rows_of(world["alpha"], include_duplicates=True)
    loaded = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == len(expected) == 46
    assert loaded.column_names == [*csv_format.COLUMNS, "metadata"]
    by_id = {row["item_id"]: row for row in loaded}
    assert by_id[rich["formula"].pk]["text"] == "=HYPERLINK(\"http://evil\")"
    assert by_id[rich["voted"].pk]["disputed"] is True and len(by_id[rich["voted"].pk]["votes"]) == 3
    assert by_id[rich["first"].pk]["skip_reasons"] == [{"annotator": "bob", "reason": "not English"}]
    assert by_id[rich["first"].pk]["metadata"]["channel"] == "web"
    assert [row["label"] for row in loaded] == [row["label"] for row in expected]

    frame = pandas.read_json(path, lines=True)
    assert len(frame) == 46 and frame.set_index("item_id").loc[rich["voted"].pk, "disputed"]
    assert frame.set_index("item_id").loc[rich["first"].pk, "metadata"]["priority"] == 2
