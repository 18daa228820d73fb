"""Two sources with the same small quota over a project's life. The wave is split over the sources by
largest remainders with ties broken by the sources' names, the same way in every wave: with quotas
email 0.9 / chat 0.05 / social 0.05 and waves of 10, chat gets the one tied slot in every wave and
social none, ever (its items are never drawn, so no estimate speaks for them). Over six waves the lead
asked for 3 items of each; the planner gives chat 6 and social 0."""
import pytest

from labeling.items.models import Item
from labeling.projects.models import Source
from labeling.projects.services import replace_sources
from labeling.waves import services as waves
from labeling.waves.selectors import wave_composition

from .test_loop_helpers import build_project, eager_celery  # noqa: F401

pytestmark = pytest.mark.django_db


def test_equal_small_quotas_get_equal_shares_over_the_waves(project_factory, eager_celery):  # noqa: F811
    project, _ = build_project(project_factory, slug="small", n_items=300, n_labeled=0, double_label_share=0.0,
                               wave_size=10, batch_size=5)
    social = Source.objects.create(project=project, name="social", quota=0.0)
    ids = list(Item.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    Item.objects.filter(id__in=ids[::3]).update(source=social)
    sources = {s.name: s for s in project.sources.all()}
    replace_sources(project, [{"id": sources["email"].pk, "name": "email", "quota": 0.9},
                              {"id": sources["chat"].pk, "name": "chat", "quota": 0.05},
                              {"id": social.pk, "name": "social", "quota": 0.05}])
    totals = {"email": 0, "chat": 0, "social": 0}
    per_wave = []
    for _ in range(6):
        wave = waves.open_wave(waves.plan_next_wave(project))
        counts = wave_composition(wave)["by_source"]
        per_wave.append(counts)
        for name, n in counts.items():
            totals[name] += n
        waves.close_wave(wave)  # nobody answered: its items go back to the pool
    assert totals["email"] == 54
    # 0.05 × 60 = 3 each; equal quotas should not starve one of them for ever.
    assert totals["social"] >= 1 and abs(totals["chat"] - totals["social"]) <= 2, (
        f"over 6 waves of 10 under email 0.9 / chat 0.05 / social 0.05: {totals}; per wave {per_wave}")
