"""The first "none of these" answer looks for a label of that name before it creates the project's
Other label, and looks for it as every label path compares names (case, variants, look-alike
letters): a lead's own "NONE OF THESE" is that label. It looked for the exact name only, so the
answer created "None of these" beside it, two labels that read the same, which the name rule says a
project cannot have."""
import uuid

import pytest

from labeling.annotations.models import Annotation
from labeling.projects.models import Label

from .test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db


def test_none_of_these_answers_with_the_leads_label_of_that_name_however_cased(project_factory, make_user):
    project = project_factory("otherlike", labels=("billing", "NONE OF THESE"))
    ann = add_member(make_user, project, "ann")
    make_open_wave(project, 2)
    client = api_as(ann)
    batch = client.post("/api/projects/otherlike/batches/", {}, format="json").json()["items"]
    r = client.post("/api/projects/otherlike/annotations/", {"client_id": str(uuid.uuid4()),
                    "assignment": batch[0]["assignment"], "none_of_these": True}, format="json")
    assert r.status_code == 201, r.content
    assert sorted(Label.objects.filter(project=project).values_list("name", flat=True)) == ["NONE OF THESE", "billing"]
    assert Annotation.objects.get().label.name == "NONE OF THESE"
