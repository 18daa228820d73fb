"""The admin's project page judges source names as the sources page and the API do
(label_names.source_name_errors): a renamed or added source with a control character, with nothing
visible, mixing scripts in a word, or looking like another source is refused with the message,
nothing saved (the admin saved them: "Email" beside "email" split quotas and filters)."""
import pytest

from labeling.projects.models import Source

from .test_admin_label_rows import _change_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(project_factory):
    return project_factory("adm", labels=("billing",), sources=("email", "chat"))


def _names(project):
    return sorted(Source.objects.filter(project=project).values_list("name", flat=True))


def _prefix(data, source):
    return next(k[: -len("-id")] for k, v in data.items() if k.endswith("-id") and k.startswith("sources")
                and v == str(source.pk))


@pytest.mark.parametrize(("name", "said"), [
    ("Email", "Source names “email” and “Email” look alike"),
    ("ch\u0007at", "contains control characters"),
    ("\u200b", "A source name is"),
    ("ch\u0430t", "Source name"),  # Latin and Cyrillic in one word
])
def test_a_renamed_source_is_judged_by_the_source_name_rules(admin_client, project, name, said):
    data = _change_form(admin_client, project)
    data[f"{_prefix(data, project.sources.get(name='chat'))}-name"] = name
    answer = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    assert answer.status_code == 200  # the form again, with the message
    assert said in answer.content.decode()
    assert _names(project) == ["chat", "email"]


def test_an_added_source_is_judged_and_a_good_rename_saves(admin_client, project):
    data = _change_form(admin_client, project)
    total = int(data["sources-TOTAL_FORMS"])
    data.update({"sources-TOTAL_FORMS": str(total + 1), f"sources-{total}-name": "EMAIL",
                 f"sources-{total}-quota": "0", f"sources-{total}-project": str(project.pk)})
    answer = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    assert answer.status_code == 200 and "look alike" in answer.content.decode()
    assert _names(project) == ["chat", "email"]

    data[f"sources-{total}-name"] = "web"
    data[f"{_prefix(data, project.sources.get(name='chat'))}-name"] = "live chat"
    answer = admin_client.post(f"/admin/projects/project/{project.pk}/change/", data)
    assert answer.status_code == 302, answer.content.decode()[-3000:]
    assert _names(project) == ["email", "live chat", "web"]
