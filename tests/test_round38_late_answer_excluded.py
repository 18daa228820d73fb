"""A late answer on an item a lead excluded after the annotator's lease ran out: the exclusion took
the unheld pick (and the expired assignment with it) out of the open wave. The refusal said
"Assignment N is not yours", which sends the annotator looking for a mistake of theirs; it now says
the assignment no longer exists and why, and nothing is stored. Someone else's assignment is still
"not yours"."""
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.annotations.models import Annotation, Assignment
from labeling.projects.models import Membership
from labeling.waves.models import WaveItem

from .test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db
SLUG = "late38"


def test_late_answer_on_an_excluded_item_says_why(project_factory, make_user):
    project = project_factory(SLUG)
    make_open_wave(project, 3, number=1)
    lead = api_as(add_member(make_user, project, "lead38", role=Membership.LEAD))
    ann = api_as(add_member(make_user, project, "ann38"))
    other = api_as(add_member(make_user, project, "ann38b"))
    batch = ann.post(f"/api/projects/{SLUG}/batches/", {}, format="json").json()["items"]
    first = batch[0]
    Assignment.objects.filter(pk=first["assignment"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = lead.post(f"/api/projects/{SLUG}/items/bulk/", {"action": "exclude", "items": [first["item"]]},
                         format="json")
    assert response.status_code == 200, response.content
    assert not WaveItem.objects.filter(item_id=first["item"]).exists()

    label = project.labels.first()
    late = ann.post(f"/api/projects/{SLUG}/annotations/", {"client_id": str(uuid.uuid4()),
                    "assignment": first["assignment"], "label": label.pk}, format="json")
    assert late.status_code == 404, late.content
    message = late.json()["detail"] if "detail" in late.json() else str(late.json())
    assert "not yours" not in message
    assert f"Assignment {first['assignment']} does not exist" in message and "excluded" in message
    assert not Annotation.objects.filter(item_id=first["item"]).exists()

    theirs = other.post(f"/api/projects/{SLUG}/annotations/", {"client_id": str(uuid.uuid4()),
                        "assignment": batch[1]["assignment"], "label": label.pk}, format="json")
    assert theirs.status_code == 404 and "is not yours" in str(theirs.json()), theirs.content
