"""A lead's open of a waiting wave planned under quotas changed since, and an import's record of the
sources its file created. PostgreSQL, the real planner and importer, the API as a lead calls it."""
import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from labeling.items.models import ImportBatch
from labeling.items.services import import_path
from labeling.projects.models import Membership, Source
from labeling.waves import services as waves
from labeling.waves.models import Wave
from labeling.waves.selectors import wave_composition

from .test_annotation_helpers import add_member
from .test_loop_helpers import build_project

pytestmark = pytest.mark.django_db


def test_a_lead_cannot_open_a_wave_planned_under_quotas_changed_since(project_factory, make_user):
    project, _ = build_project(project_factory, slug="stale", n_items=240, n_labeled=0, double_label_share=0.0,
                               wave_size=20, batch_size=5)
    waves.open_wave(waves.plan_next_wave(project))
    assert waves.plan_next_wave(project).number == 2
    # Quotas changed with no re-plan after (what a broker that refused the re-plan task leaves).
    Source.objects.filter(project=project, name="email").update(quota=1.0)
    Source.objects.filter(project=project, name="chat").update(quota=0.0)
    lead = add_member(make_user, project, "lead", role=Membership.LEAD)
    api = APIClient()
    api.force_authenticate(lead)
    assert api.post("/api/projects/stale/waves/1/close/", {}, format="json").status_code == 200

    refused = api.post("/api/projects/stale/waves/2/open/")
    assert refused.status_code == 409, refused.content
    detail = refused.json()["detail"]
    assert "source_quotas" in detail and "Plan the next wave" in detail, detail
    assert Wave.objects.get(project=project, number=2).state == Wave.PLANNED
    assert not Wave.objects.filter(project=project, state=Wave.OPEN).exists()

    planned = api.post("/api/projects/stale/waves/plan/")
    assert planned.status_code == 201, planned.content
    opened = Wave.objects.get(project=project, state=Wave.OPEN)
    assert opened.number == 3 and wave_composition(opened)["by_source"] == {"email": 20}
    assert Wave.objects.get(project=project, number=2).state == Wave.DISCARDED


def test_a_plan_under_the_settings_as_they_are_opens(project_factory):
    project, _ = build_project(project_factory, slug="fresh", n_items=120, n_labeled=0, double_label_share=0.0,
                               wave_size=20, batch_size=5)
    wave = waves.open_wave(waves.plan_next_wave(project))
    assert wave.state == Wave.OPEN


@pytest.fixture
def mapping(project_factory, make_user):
    project = project_factory("created", labels=("billing", "login"), sources=("email", "chat"))
    project.allow_new_sources = True
    project.save()
    lead = make_user("lead")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    return project, lead


def test_the_import_names_each_created_source_on_the_api_the_page_and_the_command(mapping, client, tmp_path):
    project, lead = mapping
    path = tmp_path / "tickets.csv"
    path.write_text("text,source\nMy card was charged twice,email\nI cannot sign in,emial\n"
                    "Refund still not here,Web <b>form</b>\nThe app logs me out,emial\n", encoding="utf-8")
    out = io.StringIO()
    call_command("import_items", "created", str(path), stdout=out)
    assert "“emial”" in out.getvalue() and "quota 0" in out.getvalue(), out.getvalue()
    batch = ImportBatch.objects.get(project=project)
    assert batch.created_sources == ["emial", "Web <b>form</b>"]

    client.force_login(lead)
    detail = client.get(f"/api/projects/created/imports/{batch.id}/").json()
    assert detail["created_sources"] == ["emial", "Web <b>form</b>"]
    assert "quota 0" in detail["created_sources_note"]
    page = client.get(f"/p/created/import/{batch.id}/").content.decode()
    assert 'id="import-created-sources"' in page and "emial" in page
    assert "Web &lt;b&gt;form&lt;/b&gt;" in page and "<b>form</b>" not in page  # escaped


def test_an_import_into_known_sources_says_nothing_about_sources(mapping, client, tmp_path):
    project, lead = mapping
    path = tmp_path / "known.csv"
    path.write_text("text,source\nMy card was charged twice,email\nI cannot sign in,chat\n", encoding="utf-8")
    assert import_path(project, path).ok
    batch = ImportBatch.objects.get(project=project)
    assert batch.created_sources == []
    client.force_login(lead)
    assert client.get(f"/api/projects/created/imports/{batch.id}/").json()["created_sources_note"] == ""
    assert 'id="import-created-sources"' not in client.get(f"/p/created/import/{batch.id}/").content.decode()


def test_a_refused_import_records_no_created_source(mapping, tmp_path):
    project, _ = mapping
    path = tmp_path / "bad.csv"
    path.write_text("text,source\nMy card was charged twice,emial\n,chat\n", encoding="utf-8")
    result = import_path(project, path)
    assert not result.ok
    assert not Source.objects.filter(project=project, name="emial").exists()
    assert ImportBatch.objects.get(project=project).created_sources == []
