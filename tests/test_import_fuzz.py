"""A corpus of hostile import files, generated here from a fixed seed, through the real importer
on both ways in: the management command and the upload API (PostgreSQL when DATABASE_URL is set).

Each file must be rejected with every error naming the file and a line (and the field, where the
problem is one field's), or accepted with exactly the expected rows. Never a traceback, never a
batch left pending or running, never a partial write (row counts before and after). Besides the
hand-made cases, seeded mutations of a good file (byte flips, inserted NUL / CR / surrogate escapes /
NaN / brackets, cut lines) must obey the same rules, and both ways in must report the same errors.
"""
import json
import logging
import random
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.items.models import ImportBatch, Item, ItemLsh
from labeling.items.readers import MAX_JSON_DEPTH
from labeling.projects.models import Label, Membership, Source

SEED = 20240611
GOOD_CSV = "text,source,external_id,tier\nMy card was charged twice,email,A1,gold\nCannot sign in,chat,A2,\n"


@dataclass
class Case:
    name: str
    content: bytes
    # accepted: the texts stored, in order; rejected: None
    texts: list[str] | None = None
    first_error: tuple[int | None, str | None] | None = None  # (line, field) of the first error
    says: str = ""  # a phrase the first error's message must hold


def deep(levels: int):
    value: object = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def corpus() -> list[Case]:
    rng = random.Random(SEED)
    jl = lambda *rows: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()  # noqa: E731
    cases = [
        Case("random-bytes.csv", rng.randbytes(6000), None, (1, None), "not text"),
        Case("random-bytes-no-nul.jsonl", bytes(b for b in rng.randbytes(3000) if b not in (0, 10, 13)) + b"\n",
             None, (1, None), "not UTF-8"),
        Case("latin-1.csv", "text,source\ncafé crème,email\n".encode("latin-1"), None, (2, "text"), "not UTF-8"),
        Case("latin-1-header.csv", "tëxt,source\nhello,email\n".encode("latin-1"), None, (1, None), "not UTF-8"),
        Case("utf-16-bom.csv", GOOD_CSV.encode("utf-16"), None, (1, None), "UTF-16"),
        Case("utf-16le-no-bom.csv", GOOD_CSV.encode("utf-16-le"), None, (1, None), "without a byte order mark"),
        Case("utf-16be-no-bom.jsonl", jl({"text": "hello"}).decode().encode("utf-16-be"), None, (1, None),
             "without a byte order mark"),
        Case("utf-32-bom.jsonl", jl({"text": "hello"}).decode().encode("utf-32"), None, (1, None), "UTF-32"),
        Case("utf-8-bom.csv", b"\xef\xbb\xbf" + GOOD_CSV.encode(), ["My card was charged twice", "Cannot sign in"]),
        Case("bare-cr.csv", GOOD_CSV.replace("\n", "\r").encode(), ["My card was charged twice", "Cannot sign in"]),
        Case("bare-cr.jsonl", b'{"text": "one"}\r{"text": "two"}\r', ["one", "two"]),
        Case("mixed-line-ends.csv", b'text\r\nfirst\rsecond\n"multi\r\nline"\n', ["first", "second", "multi\r\nline"]),
        Case("deep-nesting.jsonl", b'{"text": "ok"}\n{"text": "deep", "meta": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
             None, (2, "meta"), "nested more than"),
        Case("deep-but-parsable.jsonl", jl({"text": "ok"}, {"text": "deep", "tree": deep(MAX_JSON_DEPTH + 5)}),
             None, (2, "tree"), "nested more than"),
        Case("deep-within-limit.jsonl", jl({"text": "fine", "tree": deep(MAX_JSON_DEPTH - 2)}), ["fine"]),
        Case("nan.jsonl", b'{"text": "a", "score": 0.5}\n{"text": "b", "score": NaN}\n', None, (2, "score"), "NaN"),
        Case("infinity.jsonl", b'{"text": "a", "scores": [1, -Infinity]}\n', None, (1, "scores"), "Infinity"),
        Case("overflow.jsonl", b'{"text": "a", "big": 1e999}\n', None, (1, "big"), "inf"),
        Case("huge-int.jsonl", b'{"text": "a", "n": ' + b"9" * 5000 + b"}\n", None, (1, "n"), "digits"),
        Case("surrogate-text.jsonl", b'{"text": "bad \\ud800 half"}\n', None, (1, "text"), "surrogate"),
        Case("surrogate-meta.jsonl", b'{"text": "fine", "note": {"k": "\\udfff"}}\n', None, (1, "note"), "surrogate"),
        Case("surrogate-key.jsonl", b'{"text": "fine", "\\ud83d": 1}\n', None, (1, None), "surrogate"),
        Case("nul-escape.jsonl", b'{"text": "fine"}\n{"text": "bad\\u0000text"}\n', None, (2, "text"), "NUL"),
        Case("nul-byte.csv", b"text,note\nfine,ok\nbad,no\x00te\n", None, (3, "note"), "NUL"),
        Case("nul-later.csv", b"text\n" + b"filler row\n" * 500 + b"late\x00nul\n", None, (502, "text"), "NUL"),
        Case("huge-line.csv", b"text\n" + b"x" * 3_000_000 + b"\n", None, (2, "text"), "over the limit"),
        Case("huge-line.jsonl", jl({"text": "y" * 25_000}), None, (1, "text"), "over the limit"),
        Case("huge-metadata.jsonl", jl({"text": "a", "small": 1, "blob": "z" * 200_000}), None, (1, "blob"),
             "LONGTAIL_MAX_METADATA_BYTES"),
        Case("huge-metadata.csv", b"text,blob\nhello," + b"w" * 100_000 + b"\n", None, (2, "blob"),
             "LONGTAIL_MAX_METADATA_BYTES"),
        Case("duplicated-header.csv", b"text,source,Text\na,email,b\n", None, (1, "text"), "appears twice"),
        Case("duplicated-key.jsonl", b'{"text": "a", "text": "b"}\n', None, (1, "text"), "appears twice"),
        Case("json-array.json", json.dumps([{"text": "a"}, {"text": "b"}]).encode(), None, (1, None), "JSON array"),
        Case("json-array-pretty.json", json.dumps([{"text": "a"}], indent=2).encode(), None, (1, None), "JSON array"),
        Case("json-array-unnamed.dat", b'[{"text": "a"}]\n', None, (1, None), "JSON array"),
        Case("empty.csv", b"", None, (1, None), "empty"),
        Case("empty.jsonl", b"", None, (1, None), "no rows"),
        Case("blank-lines.jsonl", b"\n\n  \n", None, (1, None), "no rows"),
        Case("header-only.csv", b"text,source\n", None, (2, None), "no rows"),
        Case("zero-width.csv", "text\nvisible\n\u200b\u200b\n".encode(), None, (3, "text"), "invisible"),
        Case("zero-width.jsonl", jl({"text": "\ufeff\u2060 \u200d"}), None, (1, "text"), "invisible"),
        Case("hangul-filler.jsonl", jl({"text": "\u3164\ufe0f"}), None, (1, "text"), "invisible"),
        Case("text-not-string.jsonl", b'{"text": 5}\n', None, (1, "text"), "must be a string"),
        Case("not-an-object.jsonl", b'{"text": "a"}\n"just a string"\n', None, (2, None), "expected a JSON object"),
        Case("malformed.jsonl", b'{"text": "a", "tags": [1, 2,, 3]}\n', None, (1, "tags"), "malformed JSON"),
        Case("unbalanced-quote.csv", b'text,source\n"never closed,email\n', None, (2, None), "malformed CSV"),
        Case("good.jsonl", jl({"text": "Ünïcödé ✓ fine", "source": "chat", "n": 1.5, "tags": ["a", None]}),
             ["Ünïcödé ✓ fine"]),
    ]
    return cases + mutations(rng)


MUTATION_INSERTS = [b"\x00", b"\r", b"\n", b"\xff", b"\xc3", b'"', b",", b"\\ud800", b"NaN", b"[[[[", b"}",
                    "\u200b".encode(), b"\xef\xbb\xbf", b"\\u0000", b"\t"]


def mutations(rng: random.Random, count: int = 30) -> list[Case]:
    """Seeded damage to good files; what the importer must do with each is not known in advance."""
    good_jsonl = "".join(json.dumps({"text": f"ticket number {i} about my bill", "source": "email",
                                     "meta": {"n": i, "ok": True}}) + "\n" for i in range(6)).encode()
    out = []
    for n in range(count):
        data = bytearray(good_jsonl if n % 2 else GOOD_CSV.encode())
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data) + 1)
            kind = rng.random()
            if kind < 0.5:
                data[at:at] = rng.choice(MUTATION_INSERTS)
            elif kind < 0.75 and data:
                data[min(at, len(data) - 1)] = rng.randrange(256)
            else:
                del data[at : at + rng.randint(1, 12)]
        out.append(Case(f"mutant-{n:02d}.{'jsonl' if n % 2 else 'csv'}", bytes(data)))
    return out


CORPUS = corpus()


def snapshot(project) -> tuple:
    return (Item.objects.filter(project=project).count(), ItemLsh.objects.filter(project=project).count(),
            Annotation.objects.filter(project=project).count(), Label.objects.filter(project=project).count(),
            Source.objects.filter(project=project).count())


@pytest.fixture
def lead_of(project_factory, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    lead = make_user("fuzzlead")

    def _make(slug):
        project = project_factory(slug, labels=("billing", "login"), sources=("email", "chat"))
        Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
        return project, lead

    return _make


def via_command(project, path, capsys) -> ImportBatch:
    try:
        call_command("import_items", project.slug, str(path), "--no-progress")
    except CommandError as exc:
        assert "nothing imported" in str(exc)
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return ImportBatch.objects.filter(project=project).latest("id")


def via_api(project, lead, case, tmp_path, on_commit) -> ImportBatch:
    client = APIClient()
    client.force_authenticate(lead)
    with on_commit(execute=True):  # the test's transaction never commits: run what would run on commit
        response = client.post(f"/api/projects/{project.slug}/imports/",
                               {"file": SimpleUploadedFile(case.name, case.content)}, format="multipart")
    assert response.status_code == 202, response.content[:500]
    body = response.json()
    assert response["Location"] == f"/api/projects/{project.slug}/imports/{body['id']}/"
    polled = client.get(response["Location"])
    assert polled.status_code == 200 and polled.json()["state"] in ("done", "failed")
    assert not list((tmp_path / "media" / "imports" / project.slug).iterdir())  # the upload was removed
    return ImportBatch.objects.get(id=body["id"])


def check_outcome(case: Case, project, batch: ImportBatch, before: tuple) -> list[tuple]:
    """The rules every file obeys; returns the (line, field) of its errors."""
    assert batch.state in (ImportBatch.DONE, ImportBatch.FAILED), f"{case.name}: left {batch.state}"
    assert batch.progress == 1.0 and batch.finished_at is not None, case.name
    where = [(e["line"], e["field"]) for e in batch.errors]
    for error in batch.errors:
        assert error["file"] == case.name, error
        assert isinstance(error["line"], int) and error["line"] >= 1, (case.name, error)
        assert error["message"] and "Traceback" not in error["message"], error
        assert "failed and nothing was imported" not in error["message"], (case.name, error)  # an unexpected error
    if batch.state == ImportBatch.FAILED:
        assert batch.errors, case.name
        assert snapshot(project) == before, f"{case.name}: a rejected file wrote rows"
        assert batch.rows_imported == 0
    else:
        assert not batch.errors, case.name
        items = list(Item.objects.filter(project=project).order_by("id"))
        assert len(items) == batch.rows_imported == before[0] + batch.rows_total, case.name
        for item in items:
            assert item.text.strip() and len(item.text) <= 20_000
            json.dumps(item.metadata, allow_nan=False)
    if case.texts is not None:
        assert batch.state == ImportBatch.DONE, (case.name, batch.errors[:3])
        assert [i.text for i in Item.objects.filter(project=project).order_by("id")] == case.texts
    elif case.first_error is not None:
        assert batch.state == ImportBatch.FAILED, case.name
        assert where[0] == case.first_error, (case.name, batch.errors[:3])
        assert case.says in batch.errors[0]["message"], (case.name, batch.errors[0])
    return where


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_hostile_file_through_command_and_upload_api(case, lead_of, tmp_path, capsys, caplog, eager_tasks,
                                                     django_capture_on_commit_callbacks):
    caplog.set_level(logging.ERROR, logger="labeling.items")
    path = tmp_path / case.name
    path.write_bytes(case.content)
    results = []
    for way in ("command", "api"):
        project, lead = lead_of(f"fuzz-{way}")
        before = snapshot(project)
        batch = via_command(project, path, capsys) if way == "command" else via_api(project, lead, case, tmp_path,
                                                                                django_capture_on_commit_callbacks)
        results.append(check_outcome(case, project, batch, before))
    assert results[0] == results[1], "the command and the upload API must report the same errors"
    assert not [r for r in caplog.records if r.name.startswith("labeling.items")], "an unexpected failure was logged"


def test_metadata_limit_is_the_setting(lead_of, tmp_path, settings, capsys):
    project, _ = lead_of("meta-limit")
    path = tmp_path / "meta.jsonl"
    path.write_text(json.dumps({"text": "a", "note": "x" * 90}) + "\n", encoding="utf-8")
    settings.LONGTAIL_MAX_METADATA_BYTES = 50
    batch = via_command(project, path, capsys)
    assert batch.state == "failed" and batch.errors[0]["field"] == "note"
    assert "over the limit of 50 bytes" in batch.errors[0]["message"]
    settings.LONGTAIL_MAX_METADATA_BYTES = 200
    assert via_command(project, path, capsys).state == "done"
    assert Item.objects.get(project=project).metadata == {"note": "x" * 90}


def test_unexpected_failure_ends_the_batch_failed(lead_of, tmp_path, monkeypatch, caplog):
    """Whatever raises inside the importer, the batch ends FAILED with the reason (the upload task
    relies on this: it does not catch anything itself) and the traceback goes to the log only."""
    from labeling.items import validation
    from labeling.items.importer import run_import

    project, _ = lead_of("boom")
    path = tmp_path / "ok.jsonl"
    path.write_text('{"text": "hello"}\n', encoding="utf-8")

    def explode(self, line, values):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(validation.RowValidator, "check", explode)
    result = run_import(project, path)
    batch = ImportBatch.objects.get(id=result.batch.id)
    assert batch.state == "failed" and batch.progress == 1.0 and batch.finished_at is not None
    assert "RuntimeError: disk on fire" in batch.errors[0]["message"]
    assert Item.objects.filter(project=project).count() == 0
    assert any("disk on fire" in (r.exc_text or str(r.exc_info)) for r in caplog.records)
