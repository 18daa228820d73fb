"""The note an import gives on the sources its file created says what the next wave then does with
their items, for each way the project's quotas may stand (learner.planning.quotas.source_weights):
beside quotas adding up to 1 a quota-0 source is never drawn; beside quotas under 1 it shares what they
leave. PostgreSQL, the real importer (import_items), encoder and planner, the API as a lead reads it."""
import io

import pytest
from django.core.management import call_command

from labeling.items.models import ImportBatch
from labeling.projects.models import Membership
from labeling.waves import services as waves
from labeling.waves.models import WaveItem

from .test_annotation_helpers import add_member, api_as

pytestmark = pytest.mark.django_db

ROWS = ["My card was charged twice", "I cannot sign in", "Refund still not here", "The app logs me out",
        "Where is my invoice", "Password reset mail never came", "Someone used my card abroad",
        "Two factor code is wrong", "Charged after cancelling", "Account locked after update",
        "Invoice <b>missing</b> again", "Login code expired"]


def _import(project, tmp_path, quota):
    project.sources.filter(name="email").update(quota=quota)
    project.allow_new_sources, project.wave_size, project.double_label_share = True, 6, 0.0
    project.save()
    path = tmp_path / "tickets.csv"
    path.write_text("text,source\n" + "".join(f"{text},{'email' if i % 2 else 'chat'}\n"
                                              for i, text in enumerate(ROWS)), encoding="utf-8")
    out = io.StringIO()
    call_command("import_items", project.slug, str(path), stdout=out)
    batch = ImportBatch.objects.get(project=project)
    assert batch.created_sources == ["chat"] and batch.created_sources_note in out.getvalue()
    drawn = list(WaveItem.objects.filter(wave=waves.plan_next_wave(project))
                 .values_list("item__source__name", flat=True))
    return batch, drawn


def test_beside_quotas_that_add_up_to_one_the_new_source_is_not_drawn(project_factory, tmp_path, make_user):
    project = project_factory("fullquota", labels=("billing", "login"), sources=("email",))
    batch, drawn = _import(project, tmp_path, 1.0)
    assert "chat" not in drawn and len(drawn) == 6, drawn
    note = batch.created_sources_note
    assert "“chat” with quota 0" in note and "is not drawn into any wave" in note, note
    api = api_as(add_member(make_user, project, "lena", role=Membership.LEAD))
    assert api.get(f"/api/projects/fullquota/imports/{batch.id}/").json()["created_sources_note"] == note


def test_beside_quotas_under_one_the_new_source_shares_what_they_leave(project_factory, tmp_path):
    project = project_factory("halfquota", labels=("billing", "login"), sources=("email",))
    batch, drawn = _import(project, tmp_path, 0.5)
    assert drawn.count("chat") == 3 and drawn.count("email") == 3, drawn
    note = batch.created_sources_note
    assert "not drawn into any wave" not in note, note
    assert "add up to 0.50" in note and "share the other 0.50 of each wave" in note, note
