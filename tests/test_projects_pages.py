"""Lead pages: roles, settings, labels (unique hotkeys), sources (quota total), rules (preview),
members, project creation, and the overview everyone in a project sees."""
import pytest
from django.urls import reverse

from labeling.items.models import Item
from labeling.projects.models import Label, Membership, Project, Rule
from learner.text import text_hash

pytestmark = pytest.mark.django_db

LEAD_PAGES = ["settings/", "settings/labels/", "settings/sources/", "settings/rules/", "members/", "waves/",
              "waves/status.json", "dashboard/", "export/", "export/labels.csv", "export/labels.jsonl"]




def add_items(project, texts, source=None):
    source = source or project.sources.first()
    return [Item.objects.create(project=project, source=source, text=t, text_hash=text_hash(t)) for t in texts]


@pytest.mark.parametrize("page", LEAD_PAGES)
def test_lead_pages_roles(client, world, page):
    url = f"/p/alpha/{page}"
    assert client.get(url).status_code == 302  # anonymous → login
    assert client.get(url)["Location"].startswith(reverse("login"))
    client.force_login(world["annotator"])
    assert client.get(url).status_code == 403
    client.force_login(world["outsider"])
    assert client.get(url).status_code == 404
    client.force_login(world["lead"])
    assert client.get(url).status_code == 200
    client.force_login(world["admin"])
    assert client.get(url).status_code == 200
    assert client.get(f"/p/beta/{page}").status_code == 200  # admins see every project


def test_lead_of_one_project_cannot_manage_another(client, world):
    client.force_login(world["lead"])
    assert client.get("/p/beta/settings/").status_code == 404


def test_overview_for_annotator_and_lead(client, world):
    client.force_login(world["annotator"])
    body = client.get("/p/alpha/").content.decode()
    assert 'href="/p/alpha/annotate/"' in body and "Start labeling" in body
    assert "lead-tools" not in body and "/p/alpha/export/" not in body
    client.force_login(world["outsider"])
    assert client.get("/p/alpha/").status_code == 404
    client.force_login(world["lead"])
    body = client.get("/p/alpha/").content.decode()
    for link in ["/p/alpha/settings/", "/p/alpha/import/", "/p/alpha/review/", "/p/alpha/dashboard/",
                 "/p/alpha/export/"]:
        assert f'href="{link}"' in body, link


def test_overview_shows_budget(client, world):
    alpha = world["alpha"]
    alpha.label_budget = 2000
    alpha.save()
    client.force_login(world["annotator"])
    body = client.get("/p/alpha/").content.decode()
    assert "Label budget: 0 of 2000 used" in body


def sources_post(project, rows):
    data = {"sources-TOTAL_FORMS": str(len(rows)), "sources-INITIAL_FORMS": str(sum(1 for r in rows if r.get("id"))),
            "sources-MIN_NUM_FORMS": "0", "sources-MAX_NUM_FORMS": "1000"}
    for i, row in enumerate(rows):
        data[f"sources-{i}-id"] = row.get("id", "")
        data[f"sources-{i}-name"] = row["name"]
        data[f"sources-{i}-quota"] = row["quota"]
        if row.get("delete"):
            data[f"sources-{i}-DELETE"] = "on"
    return data


def test_sources_quota_total_is_checked(client, world):
    alpha = world["alpha"]
    email, chat = alpha.sources.order_by("name").values_list("pk", flat=True)
    client.force_login(world["lead"])
    bad = sources_post(alpha, [{"id": chat, "name": "chat", "quota": "0.5"},
                               {"id": email, "name": "email", "quota": "0.3"},
                               {"name": "forum", "quota": "0.1"}])
    response = client.post("/p/alpha/settings/sources/", bad)
    assert response.status_code == 200
    body = response.content.decode()
    assert "must add up to 1.0" in body and "0.900" in body
    assert sorted(alpha.sources.values_list("name", "quota")) == [("chat", 0.5), ("email", 0.5)]

    good = sources_post(alpha, [{"id": chat, "name": "chat", "quota": "0.5"},
                                {"id": email, "name": "email", "quota": "0.3"},
                                {"name": "forum", "quota": "0.2"}])
    response = client.post("/p/alpha/settings/sources/", good)
    assert response.status_code == 302
    assert sorted(alpha.sources.values_list("name", "quota")) == [("chat", 0.5), ("email", 0.3), ("forum", 0.2)]


def test_source_with_items_cannot_be_deleted(client, world):
    alpha = world["alpha"]
    chat = alpha.sources.get(name="chat")
    email = alpha.sources.get(name="email")
    add_items(alpha, ["hello"], source=chat)
    client.force_login(world["lead"])
    data = sources_post(alpha, [{"id": chat.pk, "name": "chat", "quota": "0.5", "delete": True},
                                {"id": email.pk, "name": "email", "quota": "1.0"}])
    body = client.post("/p/alpha/settings/sources/", data, follow=True).content.decode()
    assert "has items and cannot be removed" in body
    assert alpha.sources.filter(name="chat").exists()


def labels_post(project, rows):
    data = {"labels-TOTAL_FORMS": str(len(rows)), "labels-INITIAL_FORMS": str(sum(1 for r in rows if r.get("id"))),
            "labels-MIN_NUM_FORMS": "0", "labels-MAX_NUM_FORMS": "1000"}
    for i, row in enumerate(rows):
        data[f"labels-{i}-id"] = row.get("id", "")
        for field in ("name", "description", "hotkey", "parent", "precision_target", "recall_target", "order"):
            data[f"labels-{i}-{field}"] = row.get(field, "")
    return data


def test_labels_hotkeys_must_be_unique(client, world):
    alpha = world["alpha"]
    billing, login, fraud = (alpha.labels.get(name=n) for n in ("billing", "login", "fraud"))
    client.force_login(world["lead"])
    rows = [{"id": billing.pk, "name": "billing", "hotkey": "1"}, {"id": login.pk, "name": "login", "hotkey": "2"},
            {"id": fraud.pk, "name": "fraud", "hotkey": "1", "precision_target": "0.9"}]
    response = client.post("/p/alpha/settings/labels/", labels_post(alpha, rows))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Hotkeys must be unique" in body and "billing, fraud" in body
    assert Label.objects.get(pk=fraud.pk).hotkey == "3"

    rows[2]["hotkey"] = "f"
    rows.append({"name": "card theft", "hotkey": "t", "parent": str(fraud.pk), "recall_target": "0.8"})
    response = client.post("/p/alpha/settings/labels/", labels_post(alpha, rows))
    assert response.status_code == 302, response.content.decode()[:2000]
    fraud.refresh_from_db()
    assert fraud.hotkey == "f" and fraud.precision_target == 0.9
    theft = Label.objects.get(project=alpha, name="card theft")
    assert theft.parent == fraud and theft.recall_target == 0.8


def test_settings_strategy_mix_must_add_up(client, world):
    alpha = world["alpha"]
    client.force_login(world["lead"])
    form = client.get("/p/alpha/settings/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, (dict, list))}
    data.update({"mix_rare": "0.5", "mix_uncertainty": "0.3", "mix_diversity": "0.2", "random_share": "0.1",
                 "wave_size": "500", "overlap": "3"})
    data = {k: v for k, v in data.items() if v is not False}
    response = client.post("/p/alpha/settings/", data)
    assert response.status_code == 200
    assert "they add up to 1.100" in response.content.decode()
    assert Project.objects.get(pk=alpha.pk).wave_size == 1000

    data["mix_rare"] = "0.4"
    response = client.post("/p/alpha/settings/", data)
    assert response.status_code == 302, response.context["form"].errors
    alpha.refresh_from_db()
    assert alpha.wave_size == 500 and alpha.overlap == 3
    assert alpha.strategy_mix == {"rare": 0.4, "uncertainty": 0.3, "diversity": 0.2}


def test_rules_page_saves_valid_rules_and_names_bad_patterns(client, world):
    alpha = world["alpha"]
    fraud = alpha.labels.get(name="fraud")
    client.force_login(world["lead"])
    response = client.post("/p/alpha/settings/rules/", {"label": fraud.pk, "kind": "regex", "pattern": "stolen(",
                                                        "enabled": "on"})
    assert response.status_code == 200
    assert "Pattern “stolen(”: invalid regular expression" in response.content.decode()
    assert not Rule.objects.exists()
    response = client.post("/p/alpha/settings/rules/", {"label": fraud.pk, "kind": "keyword", "pattern": "stolen card",
                                                        "enabled": "on"})
    assert response.status_code == 302
    rule = Rule.objects.get()
    assert (rule.label, rule.kind, rule.pattern) == (fraud, "keyword", "stolen card")
    assert "stolen card" in client.get("/p/alpha/settings/rules/").content.decode()
    client.post(f"/p/alpha/settings/rules/{rule.pk}/delete/")
    assert not Rule.objects.exists()


def test_members_page_adds_changes_and_keeps_a_lead(client, world):
    alpha = world["alpha"]
    client.force_login(world["lead"])
    response = client.post("/p/alpha/members/", {"username": "otto", "role": "annotator"})
    assert response.status_code == 302
    assert Membership.objects.get(project=alpha, user=world["outsider"]).role == "annotator"
    body = client.post("/p/alpha/members/", {"username": "nobody", "role": "lead"}).content.decode()
    assert "There is no user named “nobody”" in body
    lead_membership = Membership.objects.get(project=alpha, user=world["lead"])
    body = client.post(f"/p/alpha/members/{lead_membership.pk}/remove/", follow=True).content.decode()
    assert "at least one lead" in body
    assert Membership.objects.filter(pk=lead_membership.pk).exists()


def test_lead_creates_a_project_and_becomes_its_lead(client, world):
    client.force_login(world["annotator"])
    assert client.get("/projects/new/").status_code == 403
    client.force_login(world["lead"])
    response = client.post("/projects/new/", {"name": "Tickets", "slug": "tickets", "labels": "refund\nspam\n",
                                              "sources": "web, app"})
    assert response.status_code == 302
    project = Project.objects.get(slug="tickets")
    assert Membership.objects.get(project=project, user=world["lead"]).role == "lead"
    assert sorted(project.labels.values_list("name", flat=True)) == ["refund", "spam"]
    assert sorted(project.sources.values_list("name", "quota")) == [("app", 0.5), ("web", 0.5)]
    body = client.post("/projects/new/", {"name": "Again", "slug": "tickets"}).content.decode()
    assert "already exists" in body


def test_pages_escape_user_text(client, world):
    alpha = world["alpha"]
    alpha.labels.filter(name="fraud").update(name="<b>fraud</b>", description="<script>x()</script>")
    alpha.description = "<img src=x onerror=alert(1)>"
    alpha.save()
    client.force_login(world["lead"])
    for url in ["/p/alpha/", "/p/alpha/settings/labels/", "/p/alpha/settings/rules/"]:
        body = client.get(url).content.decode()
        assert "<script>x()</script>" not in body and "<img src=x" not in body and "<b>fraud</b>" not in body, url


def test_waves_page_shows_composition_and_status_json(client, world):
    from labeling.waves.models import Wave, WaveItem

    alpha = world["alpha"]
    items = add_items(alpha, [f"text {i}" for i in range(5)])
    fraud = alpha.labels.get(name="fraud")
    wave = Wave.objects.create(project=alpha, number=1, state=Wave.OPEN, size=5, cold_start=True)
    for i, item in enumerate(items):
        WaveItem.objects.create(wave=wave, item=item, strategy="random" if i < 3 else "rare", inclusion_prob=0.1,
                                predicted_label=fraud if i >= 3 else None, position=i)
    client.force_login(world["lead"])
    body = client.get("/p/alpha/waves/").content.decode()
    assert "Wave 1 · open" in body
    assert "<td>email</td><td>rare</td><td>fraud</td><td>2</td>" in body.replace("\n", "").replace("  ", "") or \
        "<td>chat</td><td>rare</td><td>fraud</td><td>2</td>" in body
    status = client.get("/p/alpha/waves/status.json").json()
    assert status["wave"]["number"] == 1 and status["wave"]["progress"] == {"total": 5, "done": 0, "share": 0.0}


def test_label_in_use_cannot_be_deleted(client, world):
    import uuid

    from labeling.annotations.models import Annotation

    alpha = world["alpha"]
    billing, login, fraud = (alpha.labels.get(name=n) for n in ("billing", "login", "fraud"))
    item = add_items(alpha, ["charged twice"])[0]
    Annotation.objects.create(project=alpha, item=item, annotator=world["annotator"], label=billing,
                              client_id=uuid.uuid4())
    client.force_login(world["lead"])
    data = labels_post(alpha, [{"id": billing.pk, "name": "billing", "hotkey": "1"},
                               {"id": login.pk, "name": "login", "hotkey": "2"},
                               {"id": fraud.pk, "name": "fraud", "hotkey": "3"}])
    data["labels-0-DELETE"] = "on"
    data["labels-2-DELETE"] = "on"
    body = client.post("/p/alpha/settings/labels/", data, follow=True).content.decode()
    assert "“billing” is in use" in body
    # All or nothing: the unused label ticked in the same save is kept too.
    assert sorted(alpha.labels.values_list("name", flat=True)) == ["billing", "fraud", "login"]
