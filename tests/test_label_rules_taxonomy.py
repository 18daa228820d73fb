"""The labels page checks the taxonomy its save leaves, as a whole, before writing anything. Row by
row, the order of the rows decided: moving A-top under C-top and B-top under A-top in one save was
saved (three levels) when A's row came first, and the page could then never be saved again; and
valid saves (a fine label made coarse while its parent goes under another label, a parent deleted
while its fine label moves) were refused when the rows came in the wrong order."""
import pytest
from django.core.exceptions import ValidationError

from labeling.projects import services
from labeling.projects.models import Label

from .test_concurrency_races import Hold, api_as, race, response
from .test_label_rules_other import labels_page_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def tops(world):
    alpha = world["alpha"]
    made = {name: Label.objects.create(project=alpha, name=name, order=10 + i, hotkey=key)
            for i, (name, key) in enumerate([("A-top", "q"), ("B-top", "w"), ("C-top", "e")])}
    return alpha, world["lead"], made


def parents(project):
    return dict(project.labels.values_list("name", "parent__name"))


@pytest.mark.parametrize("b_first", [False, True])
def test_a_three_level_taxonomy_is_refused_in_one_save_whatever_the_row_order(client, tops, b_first):
    alpha, lead, made = tops
    if b_first:  # B's row before A's
        Label.objects.filter(pk=made["B-top"].pk).update(order=5)
    before = parents(alpha)
    client.force_login(lead)
    changes = {"A-top": {"parent": made["C-top"].pk}, "B-top": {"parent": made["A-top"].pk}}
    body = client.post("/p/alpha/settings/labels/", labels_page_post(alpha, changes), follow=True).content.decode()
    assert "Labels saved" not in body  # before, with A's row first: saved, C-top > A-top > B-top
    assert "“B-top” cannot go under “A-top”, which is itself under “C-top”: taxonomies have two levels" in body
    assert parents(alpha) == before
    # the page still saves: one level of the two at a time
    body = client.post("/p/alpha/settings/labels/", labels_page_post(alpha, {"A-top": {"parent": made["C-top"].pk}}),
                       follow=True).content.decode()
    assert "Labels saved" in body
    assert parents(alpha)["A-top"] == "C-top"


def test_the_api_refuses_the_same_change(tops):
    alpha, lead, made = tops
    api = api_as(lead)
    assert api.patch(f"/api/projects/alpha/labels/{made['A-top'].pk}/", {"parent": made["C-top"].pk},
                     format="json").status_code == 200
    r = api.patch(f"/api/projects/alpha/labels/{made['B-top'].pk}/", {"parent": made["A-top"].pk}, format="json")
    assert r.status_code == 400 and list(r.json()) == ["parent"], r.content
    assert "taxonomies have two levels" in r.json()["parent"][0].lower()
    r = api.patch(f"/api/projects/alpha/labels/{made['C-top'].pk}/", {"parent": made["B-top"].pk}, format="json")
    assert r.status_code == 400 and list(r.json()) == ["parent"], r.content  # C has A under it
    r = api.patch(f"/api/projects/alpha/labels/{made['C-top'].pk}/", {"parent": made["C-top"].pk}, format="json")
    assert r.status_code == 400 and "cannot be its own parent" in r.json()["parent"][0], r.content
    assert parents(alpha)["B-top"] is None and parents(alpha)["C-top"] is None


def test_a_fine_label_made_coarse_while_its_parent_moves_in_one_save(client, tops):
    alpha, lead, made = tops
    Label.objects.filter(pk=made["B-top"].pk).update(parent=made["A-top"])
    client.force_login(lead)
    # A's row comes first: before, A was refused for "B" still being under it in the database
    changes = {"A-top": {"parent": made["C-top"].pk}, "B-top": {"parent": ""}}
    body = client.post("/p/alpha/settings/labels/", labels_page_post(alpha, changes), follow=True).content.decode()
    assert "Labels saved" in body, body[body.find("error"):][:600]
    assert parents(alpha) == {"billing": None, "login": None, "fraud": None,
                              "A-top": "C-top", "B-top": None, "C-top": None}


def test_a_parent_deleted_while_its_fine_label_moves_in_one_save(client, tops):
    alpha, lead, made = tops
    Label.objects.filter(pk=made["B-top"].pk).update(parent=made["A-top"])
    client.force_login(lead)
    data = labels_page_post(alpha, {"B-top": {"parent": made["C-top"].pk}})
    row = next(k for k, v in data.items() if k.endswith("-id") and v == made["A-top"].pk)
    data[row.replace("-id", "-DELETE")] = "on"
    body = client.post("/p/alpha/settings/labels/", data, follow=True).content.decode()
    assert "Labels saved" in body  # before: "“A-top” is in use (fine labels refer to it)"
    assert parents(alpha) == {"billing": None, "login": None, "fraud": None, "B-top": "C-top", "C-top": None}
    # deleting a parent whose fine label stays under it is refused before anything is written
    data = labels_page_post(alpha, {})
    row = next(k for k, v in data.items() if k.endswith("-id") and v == made["C-top"].pk)
    data[row.replace("-id", "-DELETE")] = "on"
    body = client.post("/p/alpha/settings/labels/", data, follow=True).content.decode()
    assert "“B-top” cannot go under “C-top”: that label is deleted in the same save" in body
    assert parents(alpha)["B-top"] == "C-top"


@pytest.mark.django_db(transaction=True)
def test_two_moves_at_once_cannot_make_three_levels(postgres_only, tops):
    alpha, lead, made = tops
    move = lambda name, under: lambda: api_as(lead).patch(  # noqa: E731
        f"/api/projects/alpha/labels/{made[name].pk}/", {"parent": made[under].pk}, format="json")
    first, second, waited = race(Hold('UPDATE "projects_label"'), move("A-top", "C-top"), move("B-top", "A-top"))
    (s1, b1), (s2, b2) = response(first), response(second)
    assert waited and s1 == 200, b1
    assert s2 == 400 and list(b2) == ["parent"], b2  # before: 200, C-top > A-top > B-top
    assert parents(alpha)["B-top"] is None


def test_a_label_deleted_since_it_was_loaded_is_not_saved_back(tops):
    alpha, _, made = tops
    loaded = Label.objects.get(pk=made["B-top"].pk)
    Label.objects.filter(pk=loaded.pk).delete()
    with pytest.raises(ValidationError) as refused:
        services.save_label(alpha, loaded, description="edited on a page loaded before the delete")
    assert refused.value.message_dict == {"name": ["The label “B-top” was deleted meanwhile; nothing was saved."]}
    assert not Label.objects.filter(pk=loaded.pk).exists()  # before: inserted again
