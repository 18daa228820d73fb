"""Shared builders for the label-identity tests (test_label_identity_*): a small project whose model
is trained, scored and activated through the real modeling path (pre-filled embeddings, no encoder
load), a lead's API client, and renames through the real label API. Holds no tests itself."""
from __future__ import annotations

import numpy as np
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests import test_loop_helpers as loop_helpers

LABELS = ("negative", "neutral", "positive")
SLUG = "ident"


@pytest.fixture
def trained(db, project_factory, make_user):
    """(project, lead's client, active version, labels by their names at training) of a project of
    120 items (45 labeled) over three labels, its model v1 trained, scored and active."""
    from labeling.modeling.scores import score_version
    from labeling.modeling.versions import activate_version, train_version
    from labeling.projects.models import Membership

    project, _ = loop_helpers.build_project(project_factory, slug=SLUG, n_items=120, n_labeled=45,
                                            shares=(0.34, 0.33, 0.33), labels=LABELS)
    version = train_version(project)
    score_version(version)
    version = activate_version(version)
    lead = make_user("lea")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    client = APIClient()
    client.force_authenticate(lead)
    labels = {label.name: label for label in project.labels.all()}
    return project, client, version, labels


def rename(client, label, name: str) -> None:
    """Rename a label through the label API, as a lead does."""
    r = client.patch(f"/api/projects/{SLUG}/labels/{label.pk}/", {"name": name}, format="json")
    assert r.status_code == 200, r.content


def swap(client, first, second) -> None:
    """Swap two labels' names through the label API (by way of a temporary name)."""
    first_name, second_name = first.name, second.name
    rename(client, first, "tmp-swap")
    rename(client, second, first_name)
    rename(client, first, second_name)


def items_predicted(version, trained_name: str) -> list[int]:
    """Ids of the items whose stored top label under ``version`` is the column trained as ``trained_name``."""
    from labeling.modeling.models import ItemScore

    column = list(version.label_map).index(trained_name)
    return list(ItemScore.objects.filter(model_version=version, top_label=column).order_by("item_id")
                .values_list("item_id", flat=True))


def cache_label_vector(project) -> None:
    """Vectors for the label texts as they read now (after a rename), so that planning embeds nothing
    with the encoder (as build_project does for the first names)."""
    from labeling.modeling.models import Embedding
    from learner.text import text_hash

    rng = np.random.default_rng(7)
    rows = []
    for label in project.labels.all():
        text = loop_helpers.label_text(label)
        vector = loop_helpers.unit(rng, 1)[0]
        rows.append(Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=text_hash(text),
                              vector=np.asarray(vector, np.float32).tobytes()))
    Embedding.objects.bulk_create(rows, ignore_conflicts=True)
