"""Today's new page text with markup in user-chosen names (label, rule pattern, a source an import
created, a rule time-budget note), in Chromium: no script runs and no element is injected on the
pages that show them, including the messages after a rule is disabled and deleted."""
from playwright.sync_api import expect

from labeling.items.models import ImportBatch
from labeling.projects.models import Label, Membership, Rule, Source
from labeling.waves.models import Wave

from ..test_annotation_helpers import add_member, make_open_wave

XSS = '<img src=x onerror="window.__xss=1">'
BREAK = '"><script>window.__xss=2</script>'


def test_new_page_text_is_escaped(live_server, page, login, make_user, project_factory):
    project = project_factory("r2besc", labels=("billing", "login"), sources=("email",))
    label = Label.objects.create(project=project, name="fraud " + XSS, hotkey="3")
    Rule.objects.create(project=project, label=label, kind=Rule.KEYWORD, pattern="card " + BREAK)
    Source.objects.create(project=project, name="web " + XSS, quota=0)
    ImportBatch.objects.create(project=project, filename="a.csv", state=ImportBatch.DONE, progress=1.0,
                               created_sources=["web " + XSS])
    wave, _ = make_open_wave(project, 3)
    Wave.objects.filter(pk=wave.pk).update(report={"timings": {"rules_partial": "Rules stopped " + BREAK}})
    add_member(make_user, project, "lea", role=Membership.LEAD)
    batch = ImportBatch.objects.get(project=project)
    login(page, "lea")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append((d.type, d.message)), d.accept()))
    for path in ("settings/labels/", "settings/rules/", "settings/sources/", "waves/", "", "items/",
                 f"import/{batch.pk}/", "review/", "dashboard/", "import/"):
        page.goto(live_server.url + f"/p/r2besc/{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("img[src=x]").count() == 0, path
        assert page.locator("script:not([src]):not([type])").evaluate_all(
            "els => els.filter(e => e.textContent.includes('__xss')).length") == 0, path
    page.goto(live_server.url + "/p/r2besc/settings/rules/")
    page.get_by_role("button", name="Disable").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("ul.messages")).to_contain_text("card")
    assert page.evaluate("window.__xss") is None and page.locator("img[src=x]").count() == 0
    page.get_by_role("button", name="Delete").first.click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("ul.messages")).to_contain_text("deleted")
    assert page.evaluate("window.__xss") is None and page.locator("img[src=x]").count() == 0
    assert [d for d in dialogs if d[0] != "confirm"] == []
