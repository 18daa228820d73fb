"""A model bundle names the encoder its head was trained on, as the version recorded it
(``config["embedding_model"]``), not whatever ``LONGTAIL_MODEL_ID`` says at export time.

The README tells operators to change ``LONGTAIL_MODEL_ID`` when the encoder changes. After such a
change, exporting an older version (still exportable: ready, active or retired) must still say
"all-MiniLM-L6-v2": a user who follows the bundle's README with the encoder it names would feed the
head vectors of another model. A final model's bundle already reads the recorded id
(``bundle.base_encoder_id``); a frozen one reads the setting."""
import io
import json
import zipfile

from rest_framework.test import APIClient

from labeling.modeling import scores, versions
from labeling.projects.models import Membership

from . import test_loop_helpers as helpers


def test_bundle_of_an_older_version_names_the_encoder_it_trained_on(db, project_factory, make_user, settings):
    project, _ = helpers.build_project(project_factory, slug="enc", n_items=60, n_labeled=24)
    v1 = versions.train_version(project)
    scores.score_version(v1)
    versions.activate_version(v1)
    trained_on = v1.config["embedding_model"]
    assert trained_on == "all-MiniLM-L6-v2"

    settings.LONGTAIL_MODEL_ID = "all-mpnet-base-v2"  # the operator moved to another encoder since
    lead = make_user("lead")
    Membership.objects.create(project=project, user=lead, role="lead")
    api = APIClient()
    api.force_authenticate(lead)
    resp = api.get(f"/api/projects/enc/export/model/?version={v1.number}")
    assert resp.status_code == 200, resp.content
    bundle = zipfile.ZipFile(io.BytesIO(resp.content))
    meta = json.loads(bundle.read("model.json"))
    readme = bundle.read("README.md").decode()
    assert meta["encoder"] == trained_on and "all-mpnet-base-v2" not in readme, (
        f"v{v1.number} was trained on {trained_on!r} vectors; its bundle says encoder {meta['encoder']!r} "
        f"and its README: {[line for line in readme.splitlines() if 'mpnet' in line]}")
