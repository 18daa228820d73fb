"""The item browser in headless Chromium at 1366 × 768: search plus a filter find one planted item
among 10,000; the item page tells the whole story of an item answered twice, reopened and
answered again; a bulk exclusion (with its confirm dialog) keeps items out of the next wave.
Screenshots go to test-artifacts/screenshots/browse-*.png."""
import random
import uuid

import numpy as np
import pytest
from django.conf import settings

from labeling.annotations import leasing
from labeling.annotations import services as annotation_services
from labeling.annotations.models import Assignment
from labeling.items.models import Item
from labeling.modeling.models import Embedding, ModelVersion
from labeling.projects.models import Membership
from labeling.waves.models import WaveItem
from learner.text import text_hash
from tests import test_loop_helpers as loop_helpers
from tests.test_annotation_helpers import add_member, make_open_wave
from tests.test_browse_helpers import score

pytestmark = pytest.mark.django_db(transaction=True)
eager_celery = loop_helpers.eager_celery

VOCABULARY = ("account card refund invoice login password order parcel delivery payment charge bank transfer "
              "statement address email phone app update error screen limit fee branch loan savings").split()


@pytest.fixture
def wide_page(browser, live_server):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "favicon" not in
            msg.location.get("url", "") else None)
    page.js_errors = errors
    yield page
    context.close()


def shot(page, name):
    """Full page and the first screen (what 1366 × 768 shows without scrolling)."""
    from tests.browser.conftest import SCREENSHOT_DIR, save_screenshot

    save_screenshot(page, name)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}-viewport.png"))


def test_search_and_filter_find_the_planted_item_among_10000(wide_page, live_server, login, project_factory,
                                                             make_user):
    project = project_factory("big")
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    email, chat = project.sources.get(name="email"), project.sources.get(name="chat")
    rng = random.Random(0)
    texts = [" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(6, 14))) + f" #{i}" for i in range(9_997)]
    rows = [Item(project=project, source=email if i % 2 else chat, text=t, text_hash=text_hash(t))
            for i, t in enumerate(texts)]
    planted = "The quokka invoice went missing after the move"
    rows += [Item(project=project, source=email, text="quokka photos for the newsletter", text_hash=text_hash("q1")),
             Item(project=project, source=chat, text=planted, text_hash=text_hash(planted)),
             Item(project=project, source=chat, text="invoice went missing again", text_hash=text_hash("q3"))]
    Item.objects.bulk_create(rows, batch_size=2_000)
    assert Item.objects.filter(project=project).count() == 10_000
    target = Item.objects.get(project=project, text=planted)

    page = wide_page
    login(page, "lena")
    page.goto(live_server.url + "/p/big/items/")
    assert page.locator("#browse-count").text_content().startswith("50 shown, more on the next pages")
    with page.expect_navigation():
        page.click("#count-matches")
    assert page.locator("#browse-count").text_content().strip() == "10,000 items match"
    page.fill("input[name=q]", "quokka")
    page.select_option("select[name=source]", "chat")
    with page.expect_navigation():
        page.click("#browse-apply")
    rows = page.locator("#browse-results tbody tr[data-item]")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-item") == str(target.id)
    assert page.locator("#browse-count").text_content().strip() == "1 item matches"  # count=true stays on
    shot(page, "browse-search")
    with page.expect_navigation():
        rows.first.locator("a").first.click()
    assert page.locator("#item-text").text_content() == planted
    assert page.locator("#item-source").text_content() == "chat"
    with page.expect_navigation():
        page.click("#back-to-browser")
    assert "q=quokka" in page.url and page.locator("#browse-results tbody tr[data-item]").count() == 1

    # Without a filter the list pages: 50 rows, then the next page continues below the last id.
    page.goto(live_server.url + "/p/big/items/")
    first_page = [int(x) for x in page.locator("#browse-results tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.item)")]
    assert len(first_page) == 50
    shot(page, "browse-all")
    with page.expect_navigation():
        page.click("#page-next")
    second = int(page.locator("#browse-results tbody tr").first.get_attribute("data-item"))
    assert second < min(first_page)
    assert page.js_errors == []


def test_item_page_tells_the_story_after_two_answers_and_a_reopen(wide_page, live_server, login,
                                                                 project_factory, make_user):
    project = project_factory("story")
    project.overlap = 2
    project.save()
    add_member(make_user, project, "lena", role=Membership.LEAD)
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    text = 'Card charged twice <b>"urgent"</b>\nsecond line of the message'
    wave, items = make_open_wave(project, 4, double={0}, shuffle=False,
                                 texts=[text, "card charged two times", "a refund please", "card charged once"])
    item = items[0]
    labels = {label.name: label.id for label in project.labels.all()}

    def give(user, name):
        leasing.lease_batch(project, user, size=4)
        assignment = Assignment.objects.get(annotator=user, wave_item__item=item)
        annotation_services.submit_answer(project, user, client_id=uuid.uuid4(), assignment_id=assignment.pk,
                                          label_id=labels[name])

    give(ann, "billing")
    annotation_services.undo_last_answer(project, ann)  # the reopen
    give(ann, "fraud")
    give(bob, "fraud")
    # Two model versions scored the item; embeddings for the neighbours (item 1 is its twin).
    old = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.RETIRED,
                                      label_map=["billing", "fraud", "login"])
    new = ModelVersion.objects.create(project=project, number=2, state=ModelVersion.ACTIVE,
                                      label_map=["billing", "fraud", "login"])
    score(item, old, 0, 0.55)
    score(item, new, 1, 0.81)
    rng = np.random.default_rng(1)
    base = rng.normal(size=384)
    for k, other in enumerate(items):
        vec = base + (0.05 if k < 2 else 3.0) * rng.normal(size=384)
        vec = (vec / np.linalg.norm(vec)).astype(np.float32)
        Embedding.objects.create(model_id=settings.LONGTAIL_MODEL_ID, text_hash=other.text_hash, vector=vec.tobytes())

    page = wide_page
    login(page, "lena")
    page.goto(f"{live_server.url}/p/story/items/{item.id}/")
    assert page.locator("#item-text").text_content() == text  # escaped, shown as typed, line break kept
    assert page.locator("#item-resolved").text_content() == "fraud"
    assert page.locator("#item-state").text_content() == "labeled"
    pick = page.locator("#item-picks tbody tr")
    assert pick.count() == 1 and "rare" in pick.text_content() and "picked because of reason 0" in pick.text_content()
    assert "0.2500" in pick.text_content()
    answers = page.locator("#item-answers tbody tr")
    assert [answers.nth(i).locator("td").nth(1).text_content() for i in range(3)] == ["ann", "ann", "bob"]
    assert [answers.nth(i).locator("td").nth(2).text_content() for i in range(3)] == ["billing", "fraud", "fraud"]
    assert [answers.nth(i).locator(".answer-status").text_content() for i in range(3)] == ["undone", "live", "live"]
    predictions = page.locator("#item-predictions tbody tr")
    assert [predictions.nth(i).locator("td").nth(1).text_content() for i in range(2)] == ["fraud", "billing"]
    assert "v2" in predictions.nth(0).text_content() and "0.810" in predictions.nth(0).text_content()
    nearest = page.locator("#neighbours-unlabeled li").first
    assert nearest.locator("a").text_content() == f"#{items[1].id}"
    shot(page, "browse-item")
    assert page.js_errors == []


def test_bulk_exclude_with_confirm_keeps_items_out_of_the_next_wave(wide_page, live_server, login, project_factory,
                                                                   make_user, eager_celery):
    from labeling.waves.services import plan_next_wave

    project, _ = loop_helpers.build_project(project_factory, slug="excl", n_items=60, n_labeled=12,
                                            double_label_share=0.0)
    add_member(make_user, project, "lena", role=Membership.LEAD)
    page = wide_page
    login(page, "lena")
    page.goto(live_server.url + "/p/excl/items/?state=unlabeled&page_size=20")
    boxes = page.locator("#browse-results tbody input[name=item]")
    chosen = [int(boxes.nth(i).get_attribute("value")) for i in (0, 2, 5)]
    for i in (0, 2, 5):
        boxes.nth(i).check()
    assert page.locator("#bulk-selected").text_content() == "3 selected"
    page.select_option("#bulk-action", "exclude")
    page.click("#bulk-apply")
    assert page.locator("#bulk-confirm").is_visible()
    assert page.locator("#bulk-confirm-text").text_content() == "Exclude from the pool: 3 items?"
    shot(page, "browse-confirm")
    page.click("#bulk-cancel")  # cancelling changes nothing
    assert not Item.objects.filter(project=project, excluded=True).exists()
    page.click("#bulk-apply")
    with page.expect_navigation():
        page.click("#bulk-ok")
    assert "Exclude from the pool: 3 of 3 items changed." in page.locator(".messages").text_content()
    assert "state=unlabeled" in page.url
    assert sorted(Item.objects.filter(project=project, excluded=True).values_list("id", flat=True)) == sorted(chosen)
    wave = plan_next_wave(project, size=100)
    picked = set(WaveItem.objects.filter(wave=wave).values_list("item_id", flat=True))
    assert picked and not picked & set(chosen)
    assert page.js_errors == []
