"""The import's note on the sources its file created, against what the planner then does with them.

A project whose sources have no quotas yet (one set up outside the pages, here with no source before
its first import, which creates each source it brings with quota 0) leaves its sources unconstrained,
and a zero-quota source shares 1 - sum(quotas) whenever the quotas do not add up to 1 (docs/simulation.md, "Source targets"). The note on the
import's page, its API record and import_items must not tell the lead that such items are never drawn.
PostgreSQL, the real importer, encoder and planner."""
import io

import pytest
from django.core.management import call_command

from labeling.items.models import ImportBatch
from labeling.waves import services as waves
from labeling.waves.models import WaveItem

pytestmark = pytest.mark.django_db

ROWS = ["My card was charged twice", "I cannot sign in", "Refund still not here", "The app logs me out",
        "Where is my invoice", "Password reset mail never came", "Someone used my card abroad",
        "Two factor code is wrong", "Charged after cancelling", "Account locked after update"]


def test_an_import_says_its_new_sources_are_never_drawn_and_the_next_wave_draws_them(project_factory, tmp_path):
    project = project_factory("firstimport", labels=("billing", "login"), sources=())
    project.allow_new_sources = True
    project.wave_size = 6
    project.double_label_share = 0.0
    project.save()
    path = tmp_path / "tickets.csv"
    path.write_text("text,source\n" + "".join(f"{text},{'email' if i % 2 else 'chat'}\n"
                                              for i, text in enumerate(ROWS)), encoding="utf-8")
    out = io.StringIO()
    call_command("import_items", "firstimport", str(path), stdout=out)
    batch = ImportBatch.objects.get(project=project)
    assert sorted(batch.created_sources) == ["chat", "email"]
    note = batch.created_sources_note
    assert note and note in out.getvalue()

    wave = waves.plan_next_wave(project)
    drawn = sorted(WaveItem.objects.filter(wave=wave).values_list("item__source__name", flat=True))
    assert set(drawn) == {"chat", "email"}, drawn  # no quotas at all: sources are not constrained
    assert "not drawn" not in note, (
        f"the import told the lead {note!r}, but the next wave drew {len(drawn)} items of those very sources "
        f"({drawn}): with no quotas (or quotas under 1) a quota-0 source is drawn")
