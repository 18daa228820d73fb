"""Export fixes: an unlabeled exact duplicate inherits a label only when all its labeled twins agree
(twins that disagree leave it out, counted and said by the command), and the export commands answer
a bad --out (missing folder, a folder, a file in place of a folder) with a CommandError naming the
path instead of a traceback, writing the file only once it is complete."""
import json
import os
import zipfile

import pytest
from django.core.management import CommandError, call_command

from labeling.export import services

from . import test_export
from .test_export import answer, make_item, trained_version

pytestmark = pytest.mark.django_db
world = test_export.world  # the export tests' project, users and labels (a fixture)

TEXT = "please refund the double charge"


@pytest.fixture
def twins(world):
    """Three exact duplicates labeled three ways and an unlabeled fourth; two agreeing twins and an
    unlabeled third; a lone labeled item."""
    alpha, ann, bob, cat = world["alpha"], world["ann"], world["bob"], world["cat"]
    first = make_item(alpha, TEXT)
    conflicting = [first, make_item(alpha, TEXT.upper(), group=first.pk), make_item(alpha, TEXT, group=first.pk)]
    for item, user, label in zip(conflicting, (ann, bob, cat), ("payments", "card fraud", "phishing"), strict=True):
        answer(item, user, label)
    orphan = make_item(alpha, f"  {TEXT} ", group=first.pk)
    agree = make_item(alpha, "my card was stolen")
    agree_twin = make_item(alpha, "My card was stolen", group=agree.pk)
    answer(agree, ann, "card fraud")
    answer(agree_twin, bob, "card fraud")
    inherits = make_item(alpha, "MY CARD WAS STOLEN", group=agree.pk)
    answer(make_item(alpha, "a lone ticket"), ann, "payments")
    return {"orphan": orphan, "inherits": inherits, "conflicting": conflicting}


def rows(project, **kwargs):
    return [json.loads(line) for line in "".join(services.stream_export(project, "jsonl", **kwargs)).splitlines()]


@pytest.mark.parametrize("chunk_size", [1, 2, 1000])
def test_a_duplicate_inherits_only_an_agreed_label(world, twins, chunk_size):
    out = list(services.iter_rows(world["alpha"], include_duplicates=True, chunk_size=chunk_size))
    by_id = {row["item_id"]: row for row in out}
    assert twins["orphan"].pk not in by_id  # its twins say payments, card fraud and phishing
    inherited = by_id[twins["inherits"].pk]
    assert inherited["label"] == "card fraud" and inherited["label_source"] == "duplicate"
    assert sorted(by_id[item.pk]["label"] for item in twins["conflicting"]) == ["card fraud", "payments", "phishing"]
    assert len(out) == 7  # 3 conflicting + 2 agreeing + 1 lone + 1 inherited
    report = {}
    list(services.iter_rows(world["alpha"], include_duplicates=True, chunk_size=chunk_size, report=report))
    assert report["duplicates_left_out"] == 1


def test_without_include_duplicates_nothing_is_left_out(world, twins):
    report = {}
    assert len(rows(world["alpha"], report=report)) == 6
    assert report["duplicates_left_out"] == 0


def test_export_labels_says_how_many_duplicates_it_left_out(world, twins, tmp_path, capsys):
    out = tmp_path / "labels.jsonl"
    call_command("export_labels", "alpha", "--format", "jsonl", "--out", str(out), "--include-duplicates")
    ids = [json.loads(line)["item_id"] for line in out.read_text().splitlines()]
    assert twins["orphan"].pk not in ids and twins["inherits"].pk in ids
    assert "Left out 1 unlabeled duplicate whose labeled twins disagree on the label or are disputed." in capsys.readouterr().err


BAD_OUT = [
    (lambda tmp: tmp / "no-such-folder" / "x.csv", "the folder {tmp}/no-such-folder does not exist"),
    (lambda tmp: tmp, "is a folder; give a file name in it"),
    (lambda tmp: tmp / "a-file" / "x.csv", "{tmp}/a-file is not a folder"),
]


@pytest.mark.parametrize(("path", "says"), BAD_OUT)
@pytest.mark.parametrize("command", ["export_labels", "export_model"])
def test_a_bad_out_path_is_a_command_error_naming_it(world, twins, tmp_path, path, says, command):
    (tmp_path / "a-file").write_text("keep me")
    target = path(tmp_path)
    with pytest.raises(CommandError) as err:
        call_command(command, "alpha", "--out", str(target))
    assert str(err.value).startswith(f"--out {target}: ") and says.format(tmp=tmp_path) in str(err.value)
    assert (tmp_path / "a-file").read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == ["a-file"]


def test_an_unwritable_folder_is_named(world, twins, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into a read-only folder")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(CommandError, match="is not writable"):
        call_command("export_labels", "alpha", "--out", str(locked / "x.csv"))


def test_the_file_appears_complete_and_replaces_an_earlier_export(world, twins, tmp_path):
    out = tmp_path / "labels.csv"
    out.write_text("an earlier export")
    call_command("export_labels", "alpha", "--format", "csv", "--out", str(out))
    assert out.read_text().startswith("item_id,") and len(out.read_text().splitlines()) == 7
    assert sorted(os.listdir(tmp_path)) == ["labels.csv"]  # no partial file left beside it
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
    trained_version(world["alpha"])
    bundle = tmp_path / "model.zip"
    call_command("export_model", "alpha", "--out", str(bundle))
    assert "head.bin" in zipfile.ZipFile(bundle).namelist()
    assert sorted(os.listdir(tmp_path)) == ["labels.csv", "model.zip"]


def test_a_link_keeps_its_target_and_standard_output_still_works(world, twins, tmp_path, capfd):
    real = tmp_path / "real.csv"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    call_command("export_labels", "alpha", "--format", "csv", "--out", str(link))
    assert link.is_symlink() and real.read_text().startswith("item_id,")
    assert real.stat().st_mode & 0o777 == 0o640  # an earlier export's permissions are kept
    call_command("export_labels", "alpha", "--format", "jsonl", "--out", "/dev/stdout")
    assert len(capfd.readouterr().out.splitlines()) == 6


def test_the_export_page_says_how_many_duplicates_the_option_adds_and_leaves_out(world, twins, client):
    client.force_login(world["lead"])
    page = " ".join(client.get("/p/alpha/export/").content.decode().split())
    assert ("This adds 1 unlabeled exact duplicate of labeled items; 1 more is left out because its labeled twins "
            "disagree") in page
    # the page's counts are what the download then holds
    report = {}
    out = list(services.iter_rows(world["alpha"], include_duplicates=True, report=report))
    assert sum(row["label_source"] == "duplicate" for row in out) == 1 and report["duplicates_left_out"] == 1
    make_item(world["alpha"], "my card was STOLEN", group=twins["inherits"].dup_group)
    make_item(world["alpha"], TEXT.title(), group=twins["orphan"].dup_group)
    make_item(world["alpha"], TEXT + "!", group=twins["orphan"].dup_group)  # other text: not an exact duplicate
    page = " ".join(client.get("/p/alpha/export/").content.decode().split())
    assert "This adds 2 unlabeled exact duplicates of labeled items; 2 more are left out because their" in page


def test_the_export_page_says_when_the_option_adds_nothing(world, client):
    answer(make_item(world["alpha"], "a lone ticket"), world["ann"], "payments")
    client.force_login(world["lead"])
    page = " ".join(client.get("/p/alpha/export/").content.decode().split())
    assert "No unlabeled item has the same text as a labeled one: this adds nothing now." in page
