"""Opening a planned wave checks the label budget: a wave whose answers do not fit what the budget
has left (beside what other waves still owe) is refused with the figures and what to do, on the API
(409) and the waves page (an error; the wave stays planned); one that fits exactly opens."""
import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from rest_framework.test import APIClient

from tests.test_loop_helpers import build_project

pytestmark = pytest.mark.django_db


def test_a_planned_wave_opens_only_when_its_answers_fit_the_budget_left(project_factory, make_user, client):
    from labeling.waves import services as waves
    from labeling.waves.models import Wave

    project, _ = build_project(project_factory, slug="budgetgate", n_items=80, n_labeled=20, wave_size=10,
                               batch_size=5, double_label_share=0.0)
    lead = make_user("lead", superuser=True)
    api = APIClient()
    api.force_authenticate(lead)
    base = f"/api/projects/{project.slug}"
    first = waves.plan_next_wave(project)
    waves.open_wave(first)
    second = waves.plan_next_wave(project)  # waits behind wave 1, made with no budget set
    assert (first.number, second.number, second.size) == (1, 2, 10)

    # The lead sets a budget of 5 answers, and closes wave 1 without answers: wave 2 asks for 10.
    saved = api.patch(f"{base}/", json.dumps({"label_budget": 5}), content_type="application/json")
    assert saved.status_code == 200, saved.content
    assert api.post(f"{base}/waves/1/close/", {}, format="json").status_code == 200

    refused = api.post(f"{base}/waves/2/open/")
    assert refused.status_code == 409, refused.content
    detail = refused.json()["detail"]
    assert "Wave 2 was not opened: it asks for 10 answers and the label budget of 5 has 5 left" in detail, detail
    assert Wave.objects.get(project=project, number=2).state == Wave.PLANNED

    client.force_login(lead)
    page = client.post(reverse("project-wave-open", args=[project.slug]), {"wave": "2"})
    assert page.status_code == 302
    said = [str(m) for m in get_messages(page.wsgi_request)]
    assert any("asks for 10 answers" in text for text in said), said
    assert Wave.objects.get(project=project, number=2).state == Wave.PLANNED

    # Exactly what is left is enough.
    assert api.patch(f"{base}/", json.dumps({"label_budget": 10}), content_type="application/json").status_code == 200
    opened = api.post(f"{base}/waves/2/open/")
    assert opened.status_code == 200 and opened.json()["state"] == "open", opened.content
