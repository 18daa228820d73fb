"""An import into a project that allows new sources creates each source name its file brings that the
project does not have, with quota 0. Beside quotas that add up to 1 such a source is never drawn
(learner.planning.quotas; docs/estimates.md: "(quota 0) is never drawn"), so a misspelt channel
("emial") silently parks its items outside every wave. The import's record (its page and the API's
import detail) should say which sources the file created and that they have no quota; it says
"Done." and the counts only."""
import pytest

from labeling.items.models import ImportBatch
from labeling.items.services import import_path
from labeling.projects.models import Membership, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(project_factory, make_user):
    project = project_factory("mapping", labels=("billing", "login"), sources=("email", "chat"))
    project.allow_new_sources = True
    project.save()
    lead = make_user("lead")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    return project, lead


def test_the_import_record_names_the_sources_its_file_created(project, client, tmp_path):
    project, lead = project
    path = tmp_path / "tickets.csv"
    path.write_text("text,source\nMy card was charged twice,email\nI cannot sign in on my phone,emial\n"
                    "Refund still not here after ten days,emial\nThe app logs me out every hour,chat\n",
                    encoding="utf-8")
    result = import_path(project, path)
    assert result.ok and result.rows_imported == 4
    created = Source.objects.get(project=project, name="emial")
    assert created.quota == 0.0 and created.items.count() == 2
    batch = ImportBatch.objects.get(project=project)

    client.force_login(lead)
    page = client.get(f"/p/mapping/import/{batch.id}/").content.decode()
    detail = client.get(f"/api/projects/mapping/imports/{batch.id}/").json()
    assert "emial" in page, ("the import page does not say the file created the source 'emial' (quota 0: its 2 items "
                             "are never drawn beside email 0.5 / chat 0.5)")
    assert "emial" in str(detail), f"the API's import detail does not name the created source: {detail}"
