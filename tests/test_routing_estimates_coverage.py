"""The pool estimates say which sources they speak for. Sources mail, chat and web (300 unlabeled
items each), quotas mail 0.6 and chat 0.4: web has no quota beside quotas that add up to 1, so the
planner never draws it (its items have π = 0), and the label z, which only web's items carry, can
never be seen. The estimates (version_estimates, the dashboard's payload and its API) must say that
they cover mail and chat only and cannot speak for web's items; a source drawn but not answered yet,
or answered in some waves only, is named too. Waves are planned by the real planner
(plan_next_wave) on pre-filled embeddings and stored scores."""
import numpy as np
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.modeling.models import Embedding
from labeling.projects.estimates import version_estimates
from labeling.projects.models import Membership
from labeling.waves.models import WaveItem
from labeling.waves.services import close_wave, open_wave, plan_next_wave
from learner.text import exact_text_hash, text_hash

from .review_helpers import add_version
from .test_loop_helpers import _letters, label_text, unit

pytestmark = pytest.mark.django_db
PER_SOURCE = 300


@pytest.fixture
def pool(project_factory, make_user):
    """(project, {item id: true label}, lead): 300 items per source, z only on web, model v1 active
    with stored scores for every item."""
    project = project_factory("cover", labels=("x", "y", "z"), sources=("mail", "chat", "web"))
    project.wave_size = 90
    project.save()
    lead = make_user("lea")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    rng = np.random.default_rng(0)
    items, truth = [], []
    for source in project.sources.order_by("name"):
        for _ in range(PER_SOURCE):
            text = f"{source.name} message {_letters(len(items))}"
            items.append(Item(project=project, source=source, text=text, text_hash=text_hash(text)))
            truth.append("z" if source.name == "web" else ("x", "y")[int(rng.integers(2))])
    items = Item.objects.bulk_create(items)
    vectors = unit(rng, len(items))
    rows = [Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=item.text_hash, vector=vector.tobytes())
            for item, vector in zip(items, vectors, strict=True)]
    rows += [Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=exact_text_hash(label_text(label)),
                       vector=unit(rng, 1)[0].tobytes()) for label in project.labels.all()]
    Embedding.objects.bulk_create(rows)
    add_version(project, 1, {item.pk: (int(rng.integers(3)), float(rng.uniform(0.4, 0.95))) for item in items})
    return project, dict(zip((item.pk for item in items), truth, strict=True)), lead


def set_quotas(project, quotas: dict) -> None:
    for source in project.sources.all():
        source.quota = quotas.get(source.name, 0.0)
        source.save()


def drawn_wave(project):
    """Plan a wave with the real planner and open it: its picks with a stated π."""
    wave = open_wave(plan_next_wave(project))
    return wave, list(WaveItem.objects.filter(wave=wave, inclusion_prob__isnull=False).select_related("item__source"))


def answer(project, picks, truth) -> None:
    labels = {label.name: label for label in project.labels.all()}
    Annotation.objects.bulk_create([Annotation(project=project, item=p.item, label=labels[truth[p.item_id]],
                                               origin=Annotation.IMPORT) for p in picks])


def unlabeled(project, source: str) -> int:
    return Item.objects.filter(project=project, source__name=source, annotations__isnull=True).count()


def coverage(project) -> dict:
    return version_estimates(project)[1]["sample"]["coverage"]


def test_a_source_without_quota_beside_full_quotas_is_named_as_not_covered(pool):
    project, truth, lead = pool
    set_quotas(project, {"mail": 0.6, "chat": 0.4})
    _, picks = drawn_wave(project)
    assert picks and not [p for p in picks if p.item.source.name == "web"]  # web is never drawn: π = 0
    answer(project, picks, truth)
    covered = coverage(project)
    assert covered["sources"] == ["chat", "mail"]
    items = unlabeled(project, "mail") + unlabeled(project, "chat")
    assert (covered["items"], covered["pool_items"]) == (items, items + PER_SOURCE)
    assert covered["left_out"] == [{"source": "web", "items": PER_SOURCE, "quota": 0.0,
                                    "reason": "(quota 0) is never drawn"}]
    assert covered["summary"] == (
        f"The figures cover sources chat, mail ({items} of {items + PER_SOURCE} unlabeled items); web (quota 0) "
        f"is never drawn, so nothing here speaks for its {PER_SOURCE} unlabeled items")
    # the dashboard's payload and the API that serves it carry the same statement
    client = APIClient()
    client.force_authenticate(lead)
    response = client.get(f"/api/projects/{project.slug}/dashboard/")
    assert response.status_code == 200
    assert response.json()["estimates"]["sample"]["coverage"] == covered


def test_drawn_but_unanswered_and_partly_covered_sources_are_named(pool):
    project, truth, _ = pool
    # quotas that leave 0.2 for web: the planner draws it
    set_quotas(project, {"mail": 0.5, "chat": 0.3})
    first, picks = drawn_wave(project)
    on_web = [p for p in picks if p.item.source.name == "web"]
    assert on_web
    answer(project, [p for p in picks if p not in on_web], truth)
    covered = coverage(project)
    assert covered["sources"] == ["chat", "mail"]
    assert covered["left_out"] == [{"source": "web", "items": PER_SOURCE, "quota": 0.0,
                                    "reason": f"has {len(on_web)} drawn picks, none answered (in the estimate) yet"}]
    answer(project, on_web, truth)
    covered = coverage(project)
    assert covered["sources"] == ["chat", "mail", "web"] and covered["left_out"] == [] and covered["partial"] == []
    assert covered["summary"] == (f"The figures cover sources chat, mail, web ({covered['pool_items']} of "
                                  f"{covered['pool_items']} unlabeled items)")
    # the next wave under quotas that add up to 1 never draws web: its first wave's pool only
    close_wave(first)
    set_quotas(project, {"mail": 0.6, "chat": 0.4})
    second, picks = drawn_wave(project)
    assert not [p for p in picks if p.item.source.name == "web"]
    answer(project, picks, truth)
    covered = coverage(project)
    assert covered["partial"] == [{"source": "web", "waves": [first.number]}]
    assert (f"web only in wave {first.number} of {first.number}, {second.number}: nothing here speaks for its "
            "items in the others") in covered["summary"]
