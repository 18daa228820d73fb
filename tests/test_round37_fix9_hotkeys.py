"""A hotkey sent decomposed ("e" + U+0301) is the key "é" its keyboard types: the label API, the
labels page, the admin and a service saving a label store it as that one character (the API refused
it, the labels page and the admin refused it as two characters, a service's save failed on the
one-character column)."""
import pytest

from labeling.projects.models import Label
from tests.test_admin_label_rows import _change_form, _row_prefix
from tests.test_annotation_helpers import api_as
from tests.test_projects_pages import labels_post

pytestmark = pytest.mark.django_db

DECOMPOSED, COMPOSED = "e\u0301", "\u00e9"


def test_the_api_stores_a_decomposed_key_as_the_one_character(world):
    api = api_as(world["lead"])
    created = api.post("/api/projects/alpha/labels/", {"name": "hk", "hotkey": DECOMPOSED}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["hotkey"] == COMPOSED and Label.objects.get(name="hk").hotkey == COMPOSED
    # the same key, however it is written, is one key: a second label cannot take it
    twin = api.post("/api/projects/alpha/labels/", {"name": "hk2", "hotkey": COMPOSED}, format="json")
    assert twin.status_code == 400 and not Label.objects.filter(name="hk2").exists()
    fraud = world["alpha"].labels.get(name="fraud")
    changed = api.patch(f"/api/projects/alpha/labels/{fraud.pk}/", {"hotkey": "a\u0301"}, format="json")
    assert changed.status_code == 200, changed.json()
    fraud.refresh_from_db()
    assert fraud.hotkey == "\u00e1"


def test_the_labels_page_stores_a_decomposed_key_as_the_one_character(client, world):
    alpha = world["alpha"]
    client.force_login(world["lead"])
    stored = [{"id": label.pk, "name": label.name, "hotkey": label.hotkey} for label in alpha.labels.all()]
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, [*stored, {"name": "accents",
                                                                                   "hotkey": DECOMPOSED}]))
    assert answer.status_code == 302, answer.content.decode()[:3000]
    assert Label.objects.get(project=alpha, name="accents").hotkey == COMPOSED
    # a second row with the composed key clashes with it, named as one key
    stored = [{"id": label.pk, "name": label.name, "hotkey": label.hotkey} for label in alpha.labels.all()]
    answer = client.post("/p/alpha/settings/labels/", labels_post(alpha, [*stored, {"name": "twin",
                                                                                   "hotkey": DECOMPOSED}]))
    assert answer.status_code == 200 and "Hotkeys must be unique" in answer.content.decode()
    assert not Label.objects.filter(project=alpha, name="twin").exists()


def test_a_service_saving_a_label_stores_the_one_character(world):
    label = Label(project=world["alpha"], name="saved", hotkey=DECOMPOSED)
    label.full_clean()
    label.save()
    assert Label.objects.get(pk=label.pk).hotkey == COMPOSED
    made = Label.objects.create(project=world["alpha"], name="made", hotkey="o\u0308")
    assert Label.objects.get(pk=made.pk).hotkey == "\u00f6"


def test_the_admin_stores_a_decomposed_key_as_the_one_character(admin_client, world):
    alpha = world["alpha"]
    fraud = alpha.labels.get(name="fraud")
    data = _change_form(admin_client, alpha)  # the project page's label rows
    data[f"{_row_prefix(data, fraud)}-hotkey"] = DECOMPOSED
    answer = admin_client.post(f"/admin/projects/project/{alpha.pk}/change/", data)
    assert answer.status_code == 302, answer.content.decode()[-3000:]
    fraud.refresh_from_db()
    assert fraud.hotkey == COMPOSED
    login = alpha.labels.get(name="login")  # the label's own page
    page = admin_client.get(f"/admin/projects/label/{login.pk}/change/")
    assert page.status_code == 200
    answer = admin_client.post(f"/admin/projects/label/{login.pk}/change/", {
        "name": "login", "description": login.description, "hotkey": "a\u0301", "order": "0"})
    assert answer.status_code == 302, answer.content.decode()[-3000:]
    login.refresh_from_db()
    assert login.hotkey == "\u00e1"
