"""Each project setting does what its words say (round 40, settings as a lead changes them)."""
import re

import numpy as np
import pytest
from django.conf import settings

from labeling.modeling.models import Embedding, ModelVersion
from labeling.modeling.versions import load_classifier
from labeling.projects.models import Label, Membership
from learner.text import exact_text_hash

from . import test_loop_helpers as helpers

eager_celery = helpers.eager_celery
pytestmark = pytest.mark.django_db


def _coarse_project(project_factory, slug, **fields):
    """Billing / login / fraud with login and fraud under a coarse label "account"."""
    project, truth = helpers.build_project(project_factory, slug=slug, n_items=300, n_labeled=120, seed=5,
                                           wave_size=30, **fields)
    # login and fraud look alike (one shared direction, a small own one): the fine label within
    # "account" is uncertain, so the floor matters
    rng = np.random.default_rng(21)
    shared, own = helpers.unit(rng, 1)[0], {"login": helpers.unit(rng, 1)[0], "fraud": helpers.unit(rng, 1)[0]}
    items = {item.pk: item for item in project.items.all()}
    for item_id, name in truth.items():
        if name in own:
            vec = shared + 0.1 * own[name] + 0.8 * helpers.unit(rng, 1)[0]
            vec = (vec / np.linalg.norm(vec)).astype(np.float32).tobytes()
            text = items[item_id].text
            Embedding.objects.filter(text_hash__in=[items[item_id].text_hash, exact_text_hash(text)]).update(vector=vec)
    # and a third of their labels are the other one's (annotators confuse them)
    by_name = {label.name: label for label in project.labels.all()}
    for annotation in project.annotations.filter(label__name__in=["login", "fraud"]).order_by("pk"):
        if rng.random() < 0.35:
            annotation.label = by_name["fraud" if annotation.label.name == "login" else "login"]
            annotation.save(update_fields=["label"])
    account = Label.objects.create(project=project, name="account", hotkey="9", order=0)
    Label.objects.filter(project=project, name__in=["login", "fraud"]).update(parent=account)
    vector = helpers.unit(np.random.default_rng(11), 1)[0]
    Embedding.objects.create(model_id=settings.LONGTAIL_MODEL_ID, text_hash=exact_text_hash(helpers.label_text(account)),
                             vector=vector.tobytes())
    return project, truth


def test_the_fine_label_floor_a_lead_sets_is_the_floor_the_model_serves_or_the_pages_say_it_is_not(
        eager_celery, project_factory, make_user, client, django_capture_on_commit_callbacks):
    """The settings page offers "Fine-label floor (below: coarse label only)" and saves it; with the
    default label hierarchy ("auto") the retrain replaces it by the floor its out-of-fold evidence
    picks (learner.training.hierarchy_choice), and neither the settings page nor the "Model: …" line
    of the waves page (which docs/loop.md says shows the floor used) tells the lead."""
    project, _ = _coarse_project(project_factory, "floor")
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client.force_login(lead)
    page = client.get(f"/p/{project.slug}/settings/")
    assert page.status_code == 200
    assert project.hierarchy_mode == "auto"
    # The lead asks for a cautious floor through the API (the page checks and saves the same way).
    reply = client.patch(f"/api/projects/{project.slug}/", {"fine_floor": 0.95}, content_type="application/json")
    assert reply.status_code == 200, reply.content

    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    version = ModelVersion.objects.get(project=project, state=ModelVersion.ACTIVE)
    served = load_classifier(version).fine_floor
    waves_page = client.get(f"/p/{project.slug}/waves/").content.decode()
    model_line = re.search(r'id="model-choices">(.*?)</p>', waves_page, re.S)
    assert model_line, "the waves page shows no Model line"
    line = model_line.group(1)
    if served != pytest.approx(0.95):
        # The lead's floor was replaced: a page must say so, with the floor served.
        assert f"{served:g}" in line and "floor" in line, (served, line)


def test_a_lowered_review_share_maximum_holds_for_the_label_issues_open_too(
        eager_celery, project_factory, make_user, client, django_capture_on_commit_callbacks):
    """label_issues.py: "At most review_share_max of the labeled items are open as label issues at
    a time"; docs/loop.md: a lead's change to review_share_max routes the queue again "so the queue
    follows the new band and cap without waiting for a retrain". The pass that change runs re-judges
    low-confidence tasks only: label issues stay open over the new maximum until the next retrain."""
    project, _ = _coarse_project(project_factory, "issues")
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client.force_login(lead)
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    counts = client.get(f"/api/projects/{project.slug}/review/").json()["counts"]
    assert counts["label_issue"] > 0, counts

    with django_capture_on_commit_callbacks(execute=True):
        reply = client.patch(f"/api/projects/{project.slug}/", {"review_share_min": 0.0, "review_share_max": 0.0},
                             content_type="application/json")
    assert reply.status_code == 200, reply.content
    counts = client.get(f"/api/projects/{project.slug}/review/").json()["counts"]
    assert counts["low_confidence"] == 0, counts
    # a maximum of 0 % of the labeled items: no label issue may stay open
    assert counts["label_issue"] == 0, counts


def test_a_single_field_whose_name_holds_a_comma_can_be_chosen_on_the_settings_page(
        project_factory, make_user, client, tmp_path):
    """The settings page's caption: "field names, comma-separated or one per line (a field whose name
    holds a comma)". A lead who wants only the items' field "city, state" writes it on its one line;
    the page splits it into "city" and "state" and saves those, so annotators are shown the items'
    other field "city" (or nothing), while the API stores ["city, state"] as sent."""
    import json

    from labeling.items.services import import_path
    from labeling.projects.models import Project

    project = project_factory("metaone", labels=("billing", "login"), sources=("email",))
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"text": "hello", "source": "email", "city, state": "Austin, TX", "city": "x"}) + "\n")
    assert import_path(project, path).ok
    lead = make_user("lead40m")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    client.force_login(lead)
    form = client.get(f"/p/{project.slug}/settings/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and v is not False
            and not isinstance(v, (dict, list))}
    data.update({"mix_rare": "0.4", "mix_uncertainty": "0.3", "mix_diversity": "0.2"})
    data["annotator_metadata"] = "city, state"
    response = client.post(f"/p/{project.slug}/settings/", data)
    assert response.status_code == 302, response.context["form"].errors
    # today: ["city", "state"]
    assert Project.objects.get(pk=project.pk).annotator_metadata == ["city, state"]



def test_the_per_label_share_cap_holds_as_the_settings_page_words_it(
        eager_celery, project_factory, make_user, client, django_capture_on_commit_callbacks):
    """The settings page: "At most this share of a wave per predicted label". The planner never caps
    below wave size / number of labels (learner.planning.plan), so a three-label project asking for
    0.25 gets up to a third of the wave for one predicted label, and the page does not say so."""
    from collections import Counter

    from labeling.waves.models import Wave, WaveItem

    project, _ = helpers.build_project(project_factory, slug="cap", n_items=300, n_labeled=60, seed=4,
                                       wave_size=40, label_cap_share=0.25, strategy_mix={"rare": 0.9},
                                       random_share=0.1, double_label_share=0.0)
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    wave = Wave.objects.filter(project=project).exclude(state=Wave.DISCARDED).order_by("-number").first()
    picks = Counter(WaveItem.objects.filter(wave=wave).exclude(strategy="random")
                    .values_list("predicted_label__name", flat=True))
    assert wave.size == 40
    # the rule as the page words it: 0.25 × 40 = 10, never below 40 ÷ 3 labels → at most 14 per predicted label
    assert max(picks.values()) <= 14, picks
    lead = make_user("lead40cap")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    client.force_login(lead)
    page = client.get(f"/p/{project.slug}/settings/").content.decode()
    assert "never below wave size ÷ the number of labels the model predicts" in page
