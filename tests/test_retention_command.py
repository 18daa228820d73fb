"""manage.py prune_models: a dry run prints what would go and changes nothing (rows, files, marks),
and the real run then frees exactly that; without a slug it prunes every project; bad arguments
(an unknown slug, --keep below 1 or not a number) are one clear error and prune nothing."""
import io
import re

import pytest
from django.core.management import CommandError, call_command

from labeling.modeling.artifact_paths import head_file_path
from labeling.modeling.models import ItemScore, ModelVersion
from tests import test_loop_helpers as helpers
from tests.test_retention_helpers import picked_items, retrained, score_counts, tree_bytes

eager_celery = helpers.eager_celery


@pytest.fixture
def four_versions(db, project_factory, eager_celery, settings, monkeypatch, tmp_path,
                  django_capture_on_commit_callbacks):
    return retrained(project_factory, django_capture_on_commit_callbacks, settings, monkeypatch, tmp_path,
                     versions=4)


def snapshot(settings) -> tuple:
    """Every version row as stored, every score row's key, every file under the artifact folder."""
    rows = list(ModelVersion.objects.order_by("pk").values_list("pk", "state", "pruned_at", "artifact_path",
                                                                 "artifact", "metrics"))
    scores = sorted(ItemScore.objects.values_list("model_version_id", "item_id"))
    root = settings.LONGTAIL_ARTIFACT_DIR
    files = sorted((str(p), p.stat().st_size) for p in root.rglob("*") if p.is_file())
    return rows, scores, files


def run(*args) -> str:
    out = io.StringIO()
    call_command("prune_models", *args, stdout=out)
    return out.getvalue()


def test_a_dry_run_changes_nothing_and_the_run_frees_what_it_said(four_versions, settings):
    project = four_versions
    heads = {v.number: head_file_path(v) for v in ModelVersion.objects.filter(project=project)}
    counts, picked = score_counts(project), picked_items(project)
    before = snapshot(settings)

    dry = run("kept", "--keep", "1", "--dry-run")

    assert snapshot(settings) == before
    rows = sum(counts[n] - len(picked) for n in (1, 2, 3))
    on_disk = sum(tree_bytes(heads[n]) for n in (1, 2, 3))
    assert re.findall(r"would prune v(\d) \(retired\)", dry) == ["1", "2", "3"], dry
    assert "kept: keeps v4 (active (it serves); among the newest 1 trained)" in dry
    assert f"kept: would free 3 versions, {rows:,} score rows, 0 fine-tuned embeddings" in dry
    assert f"({on_disk:,} bytes)." in dry
    assert dry.rstrip().endswith("Dry run: nothing was changed.")

    done = run("kept", "--keep", "1")

    assert done.replace("freed", "would free").replace("  pruned v", "  would prune v") + \
        "Dry run: nothing was changed.\n" == dry
    assert sorted(ModelVersion.objects.filter(pruned_at__isnull=False).values_list("number", flat=True)) == [1, 2, 3]
    assert not any(heads[n].exists() for n in (1, 2, 3)) and heads[4].is_file()


def test_without_a_slug_every_project_is_pruned(four_versions):
    other = four_versions.__class__.objects.create(slug="other", name="Other")
    old = ModelVersion.objects.create(project=other, number=1, state=ModelVersion.RETIRED)
    ModelVersion.objects.create(project=other, number=2, state=ModelVersion.ACTIVE)
    text = run("--keep", "1")
    assert "kept: freed 3 versions" in text and "other: freed 1 version, 0 score rows" in text
    assert "All projects: freed 4 versions" in text
    assert ModelVersion.objects.get(pk=old.pk).pruned_at is not None


@pytest.mark.parametrize("args, message", [
    (["nope"], "No project with the slug 'nope'; nothing pruned."),
    (["kept", "nope", "gone"], "No project with the slug 'gone', 'nope'; nothing pruned."),
    (["--keep", "0"], "--keep must be a whole number of at least 1 (how many of the newest trained versions to "
                      "keep), not '0'; nothing pruned."),
    (["kept", "--keep", "-2"], "--keep must be a whole number of at least 1"),
    (["--keep", "three"], "--keep must be a whole number of at least 1"),
    (["nope", "--keep", "0"], "--keep must be a whole number of at least 1"),
])
def test_bad_arguments_are_one_clear_error_and_prune_nothing(four_versions, settings, args, message):
    before = snapshot(settings)
    with pytest.raises(CommandError) as refused:
        run(*args)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)
    assert snapshot(settings) == before

