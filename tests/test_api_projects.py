"""REST API: token and session auth, the same roles as the pages, pagination, validation that
matches the pages, the rule preview, waves / models reads, and the offline OpenAPI docs."""
import re

import pytest
from rest_framework.test import APIClient

from labeling.items.models import Item
from labeling.projects.models import Label, Membership, Project, Rule
from learner.text import text_hash

pytestmark = pytest.mark.django_db




def api_as(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


# (method, path, body, lead-only for reads?)
LEAD_ONLY = [
    ("get", "rules/", None), ("get", "members/", None), ("get", "dashboard/", None),
    ("get", "export/csv/", None), ("get", "export/jsonl/", None),
    ("post", "rules/preview/", {"kind": "keyword", "pattern": "card"}),
    ("patch", "", {"wave_size": 300}),
    ("post", "labels/", {"name": "spam", "hotkey": "s"}),
    ("put", "sources/", [{"name": "email", "quota": 1.0}]),
]
MEMBER_READS = ["", "labels/", "sources/", "waves/", "models/"]


@pytest.mark.parametrize("method,path,body", LEAD_ONLY)
def test_lead_only_endpoints(world, method, path, body):
    url = f"/api/projects/alpha/{path}"
    assert getattr(api_as(None), method)(url, body, format="json").status_code in (401, 403)
    assert getattr(api_as(world["annotator"]), method)(url, body, format="json").status_code == 403
    assert getattr(api_as(world["outsider"]), method)(url, body, format="json").status_code == 404
    assert getattr(api_as(world["lead"]), method)(url, body, format="json").status_code in (200, 201)
    admin_url = f"/api/projects/beta/{path}"
    assert getattr(api_as(world["admin"]), method)(admin_url, body, format="json").status_code in (200, 201)


@pytest.mark.parametrize("path", MEMBER_READS)
def test_member_reads(world, path):
    url = f"/api/projects/alpha/{path}"
    assert api_as(None).get(url).status_code in (401, 403)
    assert api_as(world["outsider"]).get(url).status_code == 404
    assert api_as(world["annotator"]).get(url).status_code == 200
    assert api_as(world["admin"]).get(f"/api/projects/beta/{path}").status_code == 200


def test_token_auth(world):
    client = APIClient()
    bad = client.post("/api/auth/token/", {"username": "lena", "password": "wrong"}, format="json")
    assert bad.status_code == 400
    token = client.post("/api/auth/token/", {"username": "lena", "password": "pw-Longtail-123"},
                        format="json").json()["token"]
    assert client.get("/api/projects/").status_code in (401, 403)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    body = client.get("/api/projects/").json()
    assert [p["slug"] for p in body["results"]] == ["alpha"] and body["count"] == 1
    assert body["results"][0]["role"] == "lead"


def test_session_auth_needs_csrf_for_writes(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world["lead"])
    assert client.get("/api/projects/alpha/").status_code == 200
    assert client.patch("/api/projects/alpha/", {"wave_size": 10}, format="json").status_code == 403


def test_project_list_is_paginated_and_scoped(world, project_factory):
    for i in range(55):
        project_factory(f"p{i:02d}", labels=(), sources=("s",))
    admin = api_as(world["admin"]).get("/api/projects/").json()
    assert admin["count"] == 57 and len(admin["results"]) == 50 and admin["next"]
    mine = api_as(world["annotator"]).get("/api/projects/").json()
    assert [p["slug"] for p in mine["results"]] == ["alpha"]


def test_create_project(world):
    response = api_as(world["annotator"]).post("/api/projects/", {"slug": "x", "name": "X"}, format="json")
    assert response.status_code == 403
    response = api_as(world["lead"]).post("/api/projects/", {"slug": "tickets", "name": "Tickets",
                                                             "labels": ["a", "b"], "sources": ["web"]}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["role"] == "lead"
    assert Project.objects.get(slug="tickets").sources.get().quota == 1.0
    again = api_as(world["admin"]).post("/api/projects/", {"slug": "tickets", "name": "T"}, format="json")
    assert again.status_code == 400 and "already exists" in str(again.json())


def test_update_settings_validates(world):
    lead = api_as(world["lead"])
    bad = lead.patch("/api/projects/alpha/", {"strategy_mix": {"rare": 0.9, "uncertainty": 0.3}}, format="json")
    assert bad.status_code == 400 and "add up to 1.300" in str(bad.json())
    bad = lead.patch("/api/projects/alpha/", {"band_low": 0.8, "band_high": 0.5}, format="json")
    assert bad.status_code == 400 and "band_high" in bad.json()
    good = lead.patch("/api/projects/alpha/", {"wave_size": 250, "queue_review_predictions": True}, format="json")
    assert good.status_code == 200 and good.json()["wave_size"] == 250
    assert Project.objects.get(slug="alpha").queue_review_predictions is True


def test_labels_api_unique_hotkeys_and_parent(world):
    lead = api_as(world["lead"])
    clash = lead.post("/api/projects/alpha/labels/", {"name": "spam", "hotkey": "1"}, format="json")
    assert clash.status_code == 400 and "Hotkeys must be unique" in str(clash.json())
    fraud = Label.objects.get(project=world["alpha"], name="fraud")
    made = lead.post("/api/projects/alpha/labels/", {"name": "card theft", "hotkey": "t", "parent": fraud.pk,
                                                     "precision_target": 0.95}, format="json")
    assert made.status_code == 201, made.json()
    other_parent = Label.objects.get(project=world["beta"], name="fraud")
    wrong = lead.patch(f"/api/projects/alpha/labels/{made.json()['id']}/", {"parent": other_parent.pk}, format="json")
    assert wrong.status_code == 400 and "another project" in str(wrong.json())
    # Another project's label is not reachable through this project's URL.
    assert lead.get(f"/api/projects/alpha/labels/{other_parent.pk}/").status_code == 404


def test_sources_api_quota_total(world):
    lead = api_as(world["lead"])
    sources = lead.get("/api/projects/alpha/sources/").json()
    rows = [{"id": s["id"], "name": s["name"], "quota": 0.3} for s in sources]
    bad = lead.put("/api/projects/alpha/sources/", rows, format="json")
    assert bad.status_code == 400 and "they add up to 0.600" in str(bad.json())
    rows.append({"name": "forum", "quota": 0.4})
    good = lead.put("/api/projects/alpha/sources/", rows, format="json")
    assert good.status_code == 200, good.json()
    assert sorted((s["name"], s["quota"]) for s in good.json()) == [("chat", 0.3), ("email", 0.3), ("forum", 0.4)]


def test_rules_api_and_preview(world):
    alpha = world["alpha"]
    source = alpha.sources.first()
    for text in ["My card was stolen", "cardigan for sale", "CARD declined", "login broken", "stolen CARD again"]:
        Item.objects.create(project=alpha, source=source, text=text, text_hash=text_hash(text))
    lead = api_as(world["lead"])
    preview = lead.post("/api/projects/alpha/rules/preview/", {"kind": "keyword", "pattern": "card"}, format="json")
    assert preview.status_code == 200
    assert (preview.json()["matches"], preview.json()["scanned"]) == (3, 5)  # not "cardigan"
    regex = lead.post("/api/projects/alpha/rules/preview/", {"kind": "regex", "pattern": r"stolen\s+card"}, format="json")
    assert regex.json()["matches"] == 1
    bad = lead.post("/api/projects/alpha/rules/preview/", {"kind": "regex", "pattern": "(unclosed"}, format="json")
    assert bad.status_code == 400 and "(unclosed" in str(bad.json()) and "invalid regular expression" in str(bad.json())
    fraud = Label.objects.get(project=alpha, name="fraud")
    made = lead.post("/api/projects/alpha/rules/", {"label": fraud.pk, "kind": "keyword", "pattern": "stolen"},
                     format="json")
    assert made.status_code == 201 and made.json()["label_name"] == "fraud"
    beta_label = Label.objects.get(project=world["beta"], name="fraud")
    wrong = lead.post("/api/projects/alpha/rules/", {"label": beta_label.pk, "kind": "keyword", "pattern": "x"},
                      format="json")
    assert wrong.status_code == 400
    assert lead.delete(f"/api/projects/alpha/rules/{made.json()['id']}/").status_code == 204
    assert not Rule.objects.exists()


def test_members_api(world):
    lead = api_as(world["lead"])
    made = lead.post("/api/projects/alpha/members/", {"username": "otto", "role": "annotator"}, format="json")
    assert made.status_code == 201, made.json()
    assert api_as(world["outsider"]).get("/api/projects/alpha/").status_code == 200
    promoted = lead.patch(f"/api/projects/alpha/members/{made.json()['id']}/", {"role": "lead"}, format="json")
    assert promoted.json()["role"] == "lead"
    unknown = lead.post("/api/projects/alpha/members/", {"username": "ghost", "role": "lead"}, format="json")
    assert unknown.status_code == 400


def test_waves_and_models_api(world):
    from labeling.modeling.models import ModelVersion
    from labeling.waves.models import Wave, WaveItem

    alpha = world["alpha"]
    member = api_as(world["annotator"])
    assert member.get("/api/projects/alpha/waves/current/").status_code == 404
    source = alpha.sources.first()
    wave = Wave.objects.create(project=alpha, number=1, state=Wave.OPEN, size=3, cold_start=True)
    for i in range(3):
        item = Item.objects.create(project=alpha, source=source, text=f"t{i}", text_hash=text_hash(f"t{i}"))
        WaveItem.objects.create(wave=wave, item=item, strategy="random", inclusion_prob=0.5, position=i)
    ModelVersion.objects.create(project=alpha, number=1, state=ModelVersion.ACTIVE, train_size=40,
                                metrics={"macro_f1": 0.5, "per_class": {}}, label_map=["billing", "login", "fraud"])
    current = member.get("/api/projects/alpha/waves/current/").json()
    assert current["number"] == 1 and current["progress"]["total"] == 3
    waves = member.get("/api/projects/alpha/waves/").json()
    assert waves["count"] == 1 and waves["results"][0]["state"] == "open"
    comp = member.get("/api/projects/alpha/waves/1/composition/").json()
    assert comp["rows"] == [{"source": source.name, "strategy": "random", "predicted_label": "—", "count": 3}]
    models = member.get("/api/projects/alpha/models/").json()
    assert models["results"][0]["number"] == 1 and models["results"][0]["metrics"]["macro_f1"] == 0.5
    assert "artifact" not in models["results"][0]
    # Buttons are lead-only.
    assert member.post("/api/projects/alpha/waves/1/close/").status_code == 403
    assert member.post("/api/projects/alpha/waves/plan/").status_code == 403
    assert member.post("/api/projects/alpha/models/retrain/").status_code == 403


def test_schema_and_offline_swagger(world):
    client = api_as(world["lead"])
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"] if schema["Content-Type"].startswith("application/vnd.oai.openapi+json") \
        else None
    text = schema.content.decode()
    for path in ["/api/projects/{slug}/predict/", "/api/projects/{slug}/sources/",
                 "/api/projects/{slug}/rules/preview/", "/api/projects/{slug}/export/{fmt}/",
                 "/api/projects/{slug}/dashboard/", "/api/auth/token/"]:
        assert path in (paths or text), path
    from django.test import Client

    browser = Client()
    browser.force_login(world["lead"])
    docs = browser.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui" in a for a in assets)
    for asset in assets:
        assert asset.startswith("/static/") or asset.startswith("/api/"), asset
    assert "cdn" not in html.lower() and "https://" not in html
    for asset in [a for a in assets if a.startswith("/static/")]:
        # Served by the app itself (WhiteNoise / staticfiles finders): reachable offline.
        from django.contrib.staticfiles import finders

        assert finders.find(asset.removeprefix("/static/")), asset


def test_every_write_endpoint_hides_and_guards(world):
    """Detail and action endpoints: anonymous refused, non-members 404, annotators 403."""
    from labeling.waves.models import Wave

    alpha = world["alpha"]
    label = Label.objects.filter(project=alpha).first()
    rule = Rule.objects.create(project=alpha, label=label, kind="keyword", pattern="card")
    member = Membership.objects.get(project=alpha, user=world["annotator"])
    Wave.objects.create(project=alpha, number=1, state=Wave.OPEN)
    calls = [
        ("patch", f"labels/{label.pk}/", {"description": "x"}), ("delete", f"labels/{label.pk}/", None),
        ("get", f"rules/{rule.pk}/", None), ("patch", f"rules/{rule.pk}/", {"enabled": False}),
        ("delete", f"rules/{rule.pk}/", None), ("post", "rules/", {"label": label.pk, "kind": "keyword", "pattern": "x"}),
        ("get", f"members/{member.pk}/", None), ("patch", f"members/{member.pk}/", {"role": "lead"}),
        ("delete", f"members/{member.pk}/", None), ("post", "members/", {"username": "otto", "role": "lead"}),
        ("post", "waves/1/close/", None), ("post", "waves/1/open/", None), ("post", "waves/plan/", None),
        ("post", "models/retrain/", None), ("get", "export/model/", None),
    ]
    for method, path, body in calls:
        url = f"/api/projects/alpha/{path}"
        assert getattr(api_as(None), method)(url, body, format="json").status_code in (401, 403), url
        assert getattr(api_as(world["outsider"]), method)(url, body, format="json").status_code == 404, url
        assert getattr(api_as(world["annotator"]), method)(url, body, format="json").status_code == 403, url
    assert Rule.objects.filter(pk=rule.pk, enabled=True).exists()
    assert Membership.objects.filter(pk=member.pk, role="annotator").exists()
    assert Wave.objects.get(project=alpha, number=1).state == Wave.OPEN


def test_post_pages_are_guarded(client, world):
    alpha = world["alpha"]
    label = Label.objects.filter(project=alpha).first()
    rule = Rule.objects.create(project=alpha, label=label, kind="keyword", pattern="card")
    member = Membership.objects.get(project=alpha, user=world["annotator"])
    posts = [f"/p/alpha/settings/rules/{rule.pk}/delete/", f"/p/alpha/members/{member.pk}/remove/",
             "/p/alpha/waves/close/", "/p/alpha/waves/plan/", "/p/alpha/waves/open/", "/p/alpha/models/retrain/",
             "/p/alpha/settings/"]
    for url in posts:
        anonymous = client.post(url)
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/"), url
    client.force_login(world["outsider"])
    for url in posts:
        assert client.post(url).status_code == 404, url
    client.force_login(world["annotator"])
    for url in posts:
        assert client.post(url).status_code == 403, url
    assert client.get("/projects/new/").status_code == 403
    assert Rule.objects.filter(pk=rule.pk).exists() and Membership.objects.filter(pk=member.pk).exists()
    client.logout()
    assert client.get("/projects/new/").status_code == 302
