"""Settings that would break the loop are refused on the page and through the API with the same
message naming the field; an empty plan says why; the new-project form's hierarchy syntax,
hotkeys and Other label; the members form's default role; the 403 page (and no traceback in the
log); the rules editor's single error for an invalid regex."""
import logging

import pytest
from rest_framework.test import APIClient

from labeling.items.models import Item
from labeling.projects.models import Label, Project
from labeling.waves.models import Wave
from learner.text import text_hash

pytestmark = pytest.mark.django_db

# (changes, field at fault, words of the message)
BAD_SETTINGS = [
    ({"wave_size": 0}, "wave_size", "Wave size must be at least 1; got 0."),
    ({"batch_size": 0}, "batch_size", "Batch size must be between 1 and the wave size (1000); got 0."),
    ({"batch_size": 1500}, "batch_size", "Batch size (1500) cannot exceed the wave size (1000)"),
    ({"wave_size": 10, "batch_size": 20}, "batch_size", "Batch size (20) cannot exceed the wave size (10)"),
    ({"band_low": 0}, "band_low", "Uncertainty band: low must be strictly between 0 and 1; got 0."),
    ({"band_high": 1}, "band_high", "Uncertainty band: high must be strictly between 0 and 1; got 1."),
    ({"band_low": 0.8, "band_high": 0.5}, "band_high", "Uncertainty band: high (0.5) must be above the low end (0.8)"),
    ({"review_share_min": 0.3, "review_share_max": 0.1}, "review_share_max",
     "Review share: maximum (0.1) is below the minimum (0.3)"),
    ({"overlap": 0}, "overlap", "Overlap must be at least 1; got 0."),
    ({"rare_threshold": 0}, "rare_threshold", "Rare threshold must be at least 1; got 0."),
    ({"label_cap_share": 0}, "label_cap_share", "Per-label share cap must be above 0 and at most 1; got 0."),
    ({"near_dup_threshold": 0}, "near_dup_threshold", "Near-duplicate threshold must be above 0 and at most 1"),
    ({"label_budget": 0}, "label_budget", "Label budget must be at least 1; got 0."),
    ({"retrain_every": 0}, "retrain_every", "Retrain every N labels must be at least 1; got 0."),
    ({"max_text_chars": 0}, "max_text_chars", "Maximum text length must be at least 1; got 0."),
    ({"random_share": 0.3}, "strategy_mix", "they add up to 1.200"),
]


def settings_post(client, changes):
    form = client.get("/p/alpha/settings/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and v is not False
            and not isinstance(v, (dict, list))}
    data.update({"mix_rare": "0.4", "mix_uncertainty": "0.3", "mix_diversity": "0.2"})
    data.update({k: str(v) for k, v in changes.items()})
    return client.post("/p/alpha/settings/", data)


@pytest.mark.parametrize("changes,field,message", BAD_SETTINGS, ids=[c[1] + "-" + "-".join(map(str, c[0].values()))
                                                                    for c in BAD_SETTINGS])
def test_bad_setting_is_refused_on_the_page_and_the_api(client, world, changes, field, message):
    before = {k: getattr(world["alpha"], k) for k in changes}
    client.force_login(world["lead"])
    response = settings_post(client, changes)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was saved." in body and message in body, body[:3000]
    assert {k: getattr(Project.objects.get(pk=world["alpha"].pk), k) for k in changes} == before

    api = APIClient()
    api.force_authenticate(world["lead"])
    answer = api.patch("/api/projects/alpha/", changes, format="json")
    assert answer.status_code == 400, answer.json()
    assert field in answer.json() and message in " ".join(answer.json()[field])
    assert {k: getattr(Project.objects.get(pk=world["alpha"].pk), k) for k in changes} == before


def test_good_settings_still_save(client, world):
    client.force_login(world["lead"])
    response = settings_post(client, {"wave_size": 50, "batch_size": 50, "band_low": 0.2, "band_high": 0.8})
    assert response.status_code == 302
    alpha = Project.objects.get(pk=world["alpha"].pk)
    assert (alpha.wave_size, alpha.batch_size, alpha.band_low, alpha.band_high) == (50, 50, 0.2, 0.8)
    api = APIClient()
    api.force_authenticate(world["lead"])
    assert api.patch("/api/projects/alpha/", {"batch_size": 10}, format="json").status_code == 200
    assert api.patch("/api/projects/alpha/", {"wave_size": 5}, format="json").json() == {
        "batch_size": ["Batch size (10) cannot exceed the wave size (5): a batch is a slice of a wave."]}


def test_an_empty_plan_gives_its_real_reason(client, world):
    alpha = world["alpha"]
    for i in range(3):
        Item.objects.create(project=alpha, source=alpha.sources.first(), text=f"t{i}", text_hash=text_hash(f"t{i}"))
    Project.objects.filter(pk=alpha.pk).update(wave_size=0)  # saved before the settings were checked
    client.force_login(world["lead"])
    body = client.post("/p/alpha/waves/plan/", follow=True).content.decode()
    assert "The wave size of &#x27;alpha&#x27; is 0: set a wave size of at least 1" in body
    assert "left to plan" not in body and not Wave.objects.exists()
    api = APIClient()
    api.force_authenticate(world["lead"])
    answer = api.post("/api/projects/alpha/waves/plan/")
    assert answer.status_code == 409 and "wave size" in answer.json()["detail"]
    Item.objects.filter(project=alpha).update(excluded=True)
    Project.objects.filter(pk=alpha.pk).update(wave_size=10)
    detail = api.post("/api/projects/alpha/waves/plan/").json()["detail"]
    assert "of 3 items, 0 answered, 3 excluded by a lead" in detail, detail


def test_new_project_form_reads_the_hierarchy_and_assigns_hotkeys(client, world):
    client.force_login(world["lead"])
    response = client.post("/projects/new/", {
        "name": "Tickets", "slug": "tickets", "sources": "web", "other_label": "on",
        "labels": "billing > refund\nbilling > invoice\nlogin\nbilling\n  security >  phishing  \n"})
    assert response.status_code == 302, response.content.decode()[:2000]
    project = Project.objects.get(slug="tickets")
    rows = [(lab.name, lab.parent.name if lab.parent else None, lab.hotkey, lab.is_other)
            for lab in Label.objects.filter(project=project).order_by("order")]
    # top-level labels take the keys first (line order), then the fine labels
    assert rows == [("billing", None, "1", False), ("refund", "billing", "4", False), ("invoice", "billing", "5", False),
                    ("login", None, "2", False), ("security", None, "3", False), ("phishing", "security", "6", False),
                    ("Other", None, "0", True)]

    page = client.get("/projects/new/").content.decode()
    assert 'name="other_label"' in page and "checked" in page and "billing &gt; refund" in page
    bad = client.post("/projects/new/", {"name": "Bad", "slug": "bad", "labels": "a > b > c\nx >\nrefund\nbilling > refund"})
    body = bad.content.decode()
    assert bad.status_code == 200 and not Project.objects.filter(slug="bad").exists()
    assert "Line 1 (“a &gt; b &gt; c”): labels have two levels" in body
    assert "Line 2 (“x &gt;”): a name is missing" in body
    assert "Line 4: “refund” is already named on line 3" in body


def test_api_creates_a_hierarchy_with_an_other_label(world):
    api = APIClient()
    api.force_authenticate(world["lead"])
    answer = api.post("/api/projects/", {"slug": "t2", "name": "T2", "labels": ["pay > card", "other"],
                                         "other_label": True}, format="json")
    assert answer.status_code == 201, answer.json()
    labels = {lab.name: lab for lab in Label.objects.filter(project__slug="t2")}
    assert set(labels) == {"pay", "card", "other"} and labels["card"].parent == labels["pay"]
    assert labels["other"].is_other and labels["other"].hotkey == "0"
    bad = api.post("/api/projects/", {"slug": "t3", "name": "T3", "labels": ["a > b > c"]}, format="json")
    assert bad.status_code == 400 and "two levels" in str(bad.json()["labels"])


def test_members_form_defaults_to_annotator_and_destructive_buttons_ask(client, world):
    client.force_login(world["lead"])
    body = client.get("/p/alpha/members/").content.decode()
    assert '<option value="annotator" selected>' in body
    assert 'data-confirm="Remove ann from Alpha?' in body and "js/lead.js" in body
    assert 'data-things="labels"' in client.get("/p/alpha/settings/labels/").content.decode()


def test_403_page_says_why_and_links_back_without_a_traceback(client, world, caplog):
    client.force_login(world["annotator"])
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/p/alpha/settings/", HTTP_REFERER="http://testserver/p/alpha/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "Only the project&#x27;s leads and admins may do this." in body
    assert 'id="forbidden-back" href="http://testserver/p/alpha/"' in body and 'href="/p/alpha/"' in body
    assert 'href="/"' in body
    forbidden = [r for r in caplog.records if r.name == "django.request"]
    assert forbidden and all(r.exc_info is None for r in forbidden), [r.getMessage() for r in forbidden]
    response = client.get("/p/alpha/settings/", HTTP_REFERER="https://evil.example/")
    assert "evil.example" not in response.content.decode()


def test_invalid_regex_gets_one_error(client, world):
    fraud = world["alpha"].labels.get(name="fraud")
    client.force_login(world["lead"])
    body = client.post("/p/alpha/settings/rules/", {"label": fraud.pk, "kind": "regex", "pattern": "stolen(",
                                                    "enabled": "on"}).content.decode()
    assert "Pattern “stolen(”: invalid regular expression" in body
    assert "empty" not in body.lower()
