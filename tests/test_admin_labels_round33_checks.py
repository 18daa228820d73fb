"""How label rows are checked: the admin's project page says each problem once (a row refused
beside it is not refused again above the rows in other words)."""
import re

import pytest

from labeling.projects.models import Label

from .test_admin_label_rows import _change_form, _row_prefix

pytestmark = pytest.mark.django_db


def _above_the_rows(page: str) -> list[str]:
    """The messages of the label rows' formset as a whole (not beside a row)."""
    lists = re.findall(r'<ul class="errorlist nonform">(.*?)</ul>', page, re.S)
    return [item for found in lists for item in re.findall(r"<li>(.*?)</li>", found, re.S)]


def test_a_parent_refused_beside_its_row_is_not_refused_again_above_the_rows(admin_client, project_factory):
    project = project_factory("adm-once", labels=("billing", "refund", "login", "fraud"))
    elsewhere = project_factory("adm-elsewhere", labels=("spam",), sources=("web",)).labels.get()
    labels = {label.name: label for label in project.labels.all()}
    Label.objects.filter(pk=labels["refund"].pk).update(parent=labels["billing"])
    data = _change_form(admin_client, project)
    data[f"{_row_prefix(data, labels['login'])}-parent"] = str(labels["refund"].pk)  # under a fine label
    data[f"{_row_prefix(data, labels['fraud'])}-parent"] = str(elsewhere.pk)  # another project's label
    data[f"{_row_prefix(data, labels['billing'])}-parent"] = str(labels["billing"].pk)  # under itself

    answer = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)

    assert answer.status_code == 200
    page = answer.content.decode()
    assert "Taxonomies have two levels: coarse and fine." in page  # beside login
    assert "The parent label belongs to another project." in page  # beside fraud
    above = _above_the_rows(page)
    assert len(above) == 1, above  # only what no row says: billing under itself
    assert "billing" in above[0] and "its own parent" in above[0]
    assert Label.objects.get(pk=labels["login"].pk).parent_id is None
