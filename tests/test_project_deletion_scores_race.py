"""A scoring chunk that writes while delete_project runs (with --force) leaves no scores behind:
the chunk share-locks its version to write (modeling.scores.hold_version) and the deletion locks
the project's versions before deleting their scores, so either the chunk commits first and its
rows go with the rest, or it waits and finds the version gone. Two PostgreSQL connections. The
re-verification audit saw a forced deletion leave a chunk of scores of a version that no longer
existed."""
import threading

import pytest
from django.db import connections, transaction

from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.modeling.scores import hold_version
from labeling.projects.deletion import delete_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_chunk_writing_during_a_deletion_leaves_no_scores(project_factory, postgres_only):
    project = project_factory("racing")
    item = Item.objects.create(project=project, text="a ticket", text_hash="h1")
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE)
    written, release, done = threading.Event(), threading.Event(), threading.Event()
    errors = []

    def chunk():  # what score_range does in its write transaction, held open
        try:
            with transaction.atomic():
                assert hold_version(version)
                ItemScore.objects.create(model_version=version, item_id=item.pk, probs=b"", top_label=0, top_prob=0.9,
                                         margin=0.5, entropy=0.1)
                written.set()
                release.wait(30)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def deletion():
        try:
            delete_project(project, force=True)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            done.set()
            connections.close_all()

    writer = threading.Thread(target=chunk)
    writer.start()
    assert written.wait(30)
    deleter = threading.Thread(target=deletion)
    deleter.start()
    assert not done.wait(1.5)  # the deletion waits for the chunk's transaction
    release.set()
    writer.join(30)
    deleter.join(30)
    assert not errors, errors
    assert not ModelVersion.objects.filter(pk=version.pk).exists()
    assert ItemScore.objects.filter(model_version_id=version.pk).count() == 0


def test_a_chunk_after_the_deletion_writes_nothing(project_factory):
    project = project_factory("late")
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE)
    delete_project(project, force=True)
    with transaction.atomic():
        assert hold_version(version) is False
