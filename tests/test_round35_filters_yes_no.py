"""Yes/no filters take true, false or nothing (either) and refuse anything else with a 400 naming
the parameter, as every other bad filter value does: a BooleanFilter read excluded=maybe as
"either" and answered 200 with the whole list. The browse page's own selects send "", "true" and
"false", which keep working."""
import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation

from .test_annotation_helpers import add_member
from .test_browse_helpers import make_item, planted_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def planted(world, make_user):
    alpha = world["alpha"]
    return planted_project(alpha, {"ann": world["annotator"], "bob": add_member(make_user, alpha, "bob")})


@pytest.fixture
def api(world):
    client = APIClient()
    client.force_authenticate(world["lead"])
    return client


def _ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("name", ["excluded", "pinned"])
@pytest.mark.parametrize("value", ["maybe", "yes", "TRUE", "2", "None", "null", "true "])
def test_items_api_refuses_an_unknown_yes_no(world, planted, api, name, value):
    answer = api.get("/api/projects/alpha/items/", {name: value})
    assert answer.status_code == 400, answer.content
    assert list(answer.json()) == [name]
    assert answer.json()[name] == [f"Must be true or false (or 1 or 0), or left out for either; got {value}."]


def test_items_api_refuses_both_bad_values_of_the_probe(world, planted, api):
    answer = api.get("/api/projects/alpha/items/", {"excluded": "maybe", "pinned": "perhaps"})
    assert answer.status_code == 400 and set(answer.json()) == {"excluded", "pinned"}, answer.content


def test_items_api_true_false_and_either(world, planted, api):
    url = "/api/projects/alpha/items/"
    everything = _ids(api.get(url, {"page_size": 200}))
    assert _ids(api.get(url, {"excluded": "true"})) == {planted["excluded"].id}
    assert _ids(api.get(url, {"excluded": "false", "page_size": 200})) == everything - {planted["excluded"].id}
    assert _ids(api.get(url, {"pinned": "true"})) == {planted["pinned"].id}
    assert _ids(api.get(url, {"pinned": "false", "page_size": 200})) == everything - {planted["pinned"].id}
    assert _ids(api.get(url, {"excluded": "", "pinned": "", "page_size": 200})) == everything


@pytest.mark.parametrize(("yes", "no"), [("True", "False"), ("1", "0")])
def test_items_api_keeps_the_spellings_it_took_before(world, planted, api, yes, no):
    """Python's requests sends True for a True parameter, and scripts send 1 and 0: the filter took them
    before it was strict, and still does."""
    url = "/api/projects/alpha/items/"
    everything = _ids(api.get(url, {"page_size": 200}))
    assert _ids(api.get(url, {"excluded": yes})) == {planted["excluded"].id}
    assert _ids(api.get(url, {"pinned": no, "page_size": 200})) == everything - {planted["pinned"].id}


def test_browse_page_selects_send_values_it_accepts(client, world, planted):
    client.force_login(world["lead"])
    page = client.get("/p/alpha/items/")
    body = page.content.decode()
    for name in ("excluded", "pinned"):
        for value in ("", "true", "false"):
            assert f'<option value="{value}"' in body.split(f'name="{name}"')[1].split("</select>")[0]
    shown = client.get("/p/alpha/items/", {"excluded": "true", "pinned": "false"})
    assert shown.status_code == 200
    assert [row.item.id for row in shown.context["rows"]] == [planted["excluded"].id]
    assert client.get("/p/alpha/items/", {"excluded": "", "pinned": ""}).status_code == 200


def test_browse_page_names_the_bad_value(client, world, planted):
    client.force_login(world["lead"])
    page = client.get("/p/alpha/items/", {"pinned": "<b>perhaps</b>"})
    assert page.status_code == 400
    body = page.content.decode()
    assert "Must be true or false (or 1 or 0), or left out for either; got &lt;b&gt;perhaps&lt;/b&gt;." in body
    assert "<b>perhaps</b>" not in body


@pytest.mark.parametrize("name", ["undone", "skipped"])
def test_answers_api_refuses_an_unknown_yes_no(world, api, name):
    answer = api.get("/api/projects/alpha/answers/", {name: "maybe"})
    assert answer.status_code == 400, answer.content
    assert answer.json() == {name: ["Must be true or false (or 1 or 0), or left out for either; got maybe."]}


def test_answers_api_true_false_and_either(world, api):
    alpha = world["alpha"]
    item = make_item(alpha, "a plain message")
    login = alpha.labels.get(name="login")
    live = Annotation.objects.create(project=alpha, item=item, label=login, annotator=world["annotator"])
    undone = Annotation.objects.create(project=alpha, item=item, label=login, annotator=world["annotator"],
                                       undone=True)
    skip = Annotation.objects.create(project=alpha, item=item, annotator=world["lead"], skipped=True,
                                     skip_reason="unclear")
    url = "/api/projects/alpha/answers/"
    assert _ids(api.get(url, {"undone": "true"})) == {undone.id}
    assert _ids(api.get(url, {"undone": "false"})) == {live.id, skip.id}
    assert _ids(api.get(url, {"skipped": "true"})) == {skip.id}
    assert _ids(api.get(url, {"skipped": "false", "undone": "false"})) == {live.id}
    assert _ids(api.get(url, {"skipped": "", "undone": ""})) == {live.id, undone.id, skip.id}
