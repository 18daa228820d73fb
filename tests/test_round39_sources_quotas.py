"""Source quotas over a project's life, on the real path: a project made by the new-project path
(whose quotas it writes itself), items through the importer, a wave planned by plan_next_wave.

Items with no source (a file without a ``source`` column) get their share of the eligible pool
"even when the quotas add up to 1" (docs/simulation.md, the planner step 5). The new-project path
stores ``round(1 / n, 6)`` per source, so three sources add up to 0.999999: accepted as adding up
to 1 everywhere a lead saves quotas (±0.01), yet the planner then reads them as short of 1 and
hands the no-source items only the remaining 0.000001 of a wave: nothing."""
import json

import numpy as np
import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

DIM = 384


def _unit(rng, n):
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _embed_everything(project, rng):
    """Vectors for every item and label text, so planning runs without loading the encoder."""
    from labeling.items.models import Item
    from labeling.modeling.models import Embedding
    from learner.text import exact_text_hash

    rows = []
    for item in Item.objects.filter(project=project):
        vec = _unit(rng, 1)[0].tobytes()
        rows.append(Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=item.text_hash, vector=vec))
        rows.append(Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=exact_text_hash(item.text), vector=vec))
    for label in project.labels.all():
        text = f"{label.name}: {label.description}" if label.description else label.name
        rows.append(Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=exact_text_hash(text),
                              vector=_unit(rng, 1)[0].tobytes()))
    Embedding.objects.bulk_create(rows, ignore_conflicts=True)


VOCAB = ("invoice password refund locked charge reset card token stolen login account payment email phone "
         "address order delivery parcel late broken screen battery update crash error billing plan upgrade "
         "cancel subscription trial discount coupon voucher bank transfer wire pending failed declined").split()


def _text(rng) -> str:
    """A distinct ticket of random words: no two are near-duplicates."""
    return " ".join(rng.choice(VOCAB, size=14)) + f" #{rng.integers(10**9)}"


def _import(project, tmp_path, name, rows):
    from labeling.items.services import import_path

    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = import_path(project, path)
    assert result.ok, [e.format(name) for e in result.errors]


@pytest.mark.parametrize("sources", [("email", "chat", "social"), ("a", "b", "c", "d", "e", "f", "g")])
def test_items_without_a_source_get_their_share_under_the_new_project_quotas(django_user_model, tmp_path, sources):
    from labeling.items.models import Item
    from labeling.projects.services import create_project
    from labeling.projects.shares import check_quota_total
    from labeling.waves.selectors import wave_composition
    from labeling.waves.services import plan_next_wave

    rng = np.random.default_rng(1)
    lead = django_user_model.objects.create_user("lead-src", password="x")
    project = create_project(lead, slug="quota-life", name="Quota life", labels=["billing", "login", "fraud"],
                             sources=list(sources))
    quotas = list(project.sources.values_list("quota", flat=True))
    check_quota_total(quotas)  # the product's own check: these quotas add up to 1
    project.wave_size, project.batch_size = 100, 20
    project.save()

    per_source = 40
    rows = [{"text": _text(rng), "source": s} for s in sources for _ in range(per_source)]
    _import(project, tmp_path, "with_sources.jsonl", rows)
    # A second file from a system that writes no source column: items with no source.
    n_none = per_source * len(sources)  # as many as all the sourced items together: half the pool
    _import(project, tmp_path, "no_source.jsonl",
            [{"text": _text(rng)} for _ in range(n_none)])
    assert Item.objects.filter(project=project, source__isnull=True).count() == n_none
    _embed_everything(project, np.random.default_rng(0))

    wave = plan_next_wave(project)
    by_source = wave_composition(wave)["by_source"]
    none_picks = by_source.get("", 0)
    # Half the eligible pool has no source: documented, its share of the pool (50 of 100), the quotas
    # applying to the other half. Allow wide slack: anything near 0 is the defect.
    assert none_picks >= 40, (f"items with no source got {none_picks} of {wave.size} picks though they are half "
                              f"the pool; quotas stored by the new-project path: {quotas} (sum {sum(quotas)!r}); "
                              f"by source: {by_source}; notes: {wave.report.get('notes')}")


def test_control_quotas_that_add_up_to_exactly_one_share_with_the_no_source_items(django_user_model, tmp_path):
    """The same project once a lead types the quotas 0.33 / 0.33 / 0.34: the no-source items get
    their half (this passes today; it shows the test above fails on the stored sum only)."""
    from labeling.projects.services import create_project, replace_sources
    from labeling.waves.selectors import wave_composition
    from labeling.waves.services import plan_next_wave

    rng = np.random.default_rng(1)
    lead = django_user_model.objects.create_user("lead-src2", password="x")
    project = create_project(lead, slug="quota-life2", name="Quota life 2", labels=["billing", "login", "fraud"],
                             sources=["email", "chat", "social"])
    replace_sources(project, [{"id": s.pk, "name": s.name, "quota": q}
                              for s, q in zip(project.sources.order_by("pk"), (0.33, 0.33, 0.34), strict=True)])
    project.wave_size, project.batch_size = 100, 20
    project.save()
    _import(project, tmp_path, "with_sources.jsonl",
            [{"text": _text(rng), "source": s} for s in ("email", "chat", "social") for _ in range(40)])
    _import(project, tmp_path, "no_source.jsonl", [{"text": _text(rng)} for _ in range(120)])
    _embed_everything(project, np.random.default_rng(0))
    by_source = wave_composition(plan_next_wave(project))["by_source"]
    assert by_source.get("", 0) >= 40, by_source
