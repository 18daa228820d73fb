"""The Django admin stores a label's and a source's name composed (NFC), as the pages, the API and
the import do: a name typed on macOS ("O" + U+0308) was stored decomposed there, and an import
naming the label as a keyboard types it then met a label it could not match."""
import unicodedata

import pytest

from labeling.projects.models import Label, Source

from .test_admin_label_rows import _change_form, _Form, _row_prefix

pytestmark = pytest.mark.django_db
DECOMPOSED = unicodedata.normalize("NFD", "Ödeme")


def test_admin_rows_store_names_composed(admin_client, project_factory):
    project = project_factory("admnfc", labels=("billing", "login"))
    billing = project.labels.get(name="billing")
    data = _change_form(admin_client, project)
    data[f"{_row_prefix(data, billing)}-name"] = DECOMPOSED
    source_prefix = next(k[: -len("-id")] for k, v in data.items() if k.endswith("-id") and k.startswith("sources")
                         and v == str(project.sources.first().pk))
    data[f"{source_prefix}-name"] = unicodedata.normalize("NFD", "Café")
    answer = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert Label.objects.get(pk=billing.pk).name == "Ödeme" != DECOMPOSED
    assert Source.objects.filter(project=project, name="Café").exists()


def test_label_admin_stores_the_name_composed(admin_client, project_factory):
    project = project_factory("admnfc2", labels=("billing",))
    billing = project.labels.get(name="billing")
    page = admin_client.get(f"/admin/projects/label/{billing.pk}/change/")
    assert page.status_code == 200

    form = _Form()
    form.feed(page.content.decode())
    form.data["name"] = DECOMPOSED
    answer = admin_client.post(f"/admin/projects/label/{billing.pk}/change/", form.data)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert Label.objects.get(pk=billing.pk).name == "Ödeme"
