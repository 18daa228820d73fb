"""The dashboard stays readable with 30 and with 300 labels, at 1366×768 and at phone width:
per-wave counts as a sortable table beside a two-series chart, PR curves chosen per label with a
complete legend, sortable tables, a confusion map limited to the most confused labels, and no
card wider than the page. Screenshots go to test-artifacts/screenshots/dashboard-<n>-*.png."""
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from labeling.annotations.models import Annotation, Assignment
from labeling.items.models import Item
from labeling.modeling.models import ModelVersion
from labeling.projects.estimates import MIN_N
from labeling.projects.models import Label, Membership, Project
from labeling.waves.models import Wave, WaveItem
from learner.text import text_hash

WAVES = 8


def label_counts(n_labels: int) -> np.ndarray:
    """Labeled items per label: long-tailed, from 120 down to 1."""
    return np.maximum(1, (120 / (np.arange(n_labels) + 1) ** 0.8).astype(int))


def build(n_labels: int, make_user) -> tuple[Project, list[str]]:
    """A project with ``n_labels`` long-tailed labels labeled over WAVES waves, and an active
    model whose report covers every label."""
    rng = np.random.default_rng(n_labels)
    project = Project.objects.create(slug=f"big{n_labels}", name=f"Big {n_labels}", rare_threshold=20)
    names = [f"{'billing' if i % 3 == 0 else 'account'} issue number {i:03d}" + (" with a long name" if i % 7 == 0
                                                                                 else "") for i in range(n_labels)]
    labels = Label.objects.bulk_create([Label(project=project, name=n, order=i) for i, n in enumerate(names)])
    lead, ann = make_user("lea"), make_user("ann")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    Membership.objects.create(user=ann, project=project, role=Membership.ANNOTATOR)
    counts = label_counts(n_labels)
    texts = [f"text {i}" for i in range(int(counts.sum()))]
    items = Item.objects.bulk_create([Item(project=project, text=t, text_hash=text_hash(t)) for t in texts])
    waves = Wave.objects.bulk_create([Wave(project=project, number=w + 1, state=Wave.CLOSED, size=0) for w in range(WAVES)])
    picks, which = [], []
    k = 0
    for label_index, n in enumerate(counts):
        for _ in range(n):
            wave = waves[int(rng.integers(0, WAVES))]
            picks.append(WaveItem(wave=wave, item=items[k], strategy="random"))
            which.append(label_index)
            k += 1
    picks = WaveItem.objects.bulk_create(picks)
    later = timezone.now() + timedelta(hours=1)
    assignments = Assignment.objects.bulk_create([Assignment(wave_item=p, annotator=ann, state=Assignment.DONE,
                                                             expires_at=later) for p in picks])
    Annotation.objects.bulk_create([Annotation(project=project, item_id=p.item_id, annotator=ann, assignment=a,
                                               label=labels[j]) for p, a, j in zip(picks, assignments, which,
                                                                                    strict=True)])
    matrix = np.diag(counts).astype(int)
    for _ in range(3 * n_labels):
        i, j = rng.integers(0, n_labels, 2)
        matrix[i, j] += int(rng.integers(1, 4))
    recall = np.round(np.linspace(0, 1, 12), 3).tolist()
    per_class, curves = {}, {}
    for i, name in enumerate(names):
        p = float(rng.uniform(0.3, 1))
        per_class[name] = {"precision": p, "recall": p, "f1": p, "support": int(counts[i] // 5),
                           "average_precision": p}
        curves[name] = {"recall": recall, "precision": np.round(np.clip(1 - np.array(recall) * (1 - p), 0, 1), 3)
                        .tolist(), "average_precision": p, "positives": int(counts[i])}
    for number in (1, 2, 3):
        ModelVersion.objects.create(
            project=project, number=number, state=ModelVersion.ACTIVE if number == 3 else ModelVersion.RETIRED,
            label_map=names, train_size=300 * number,
            metrics={"per_class": per_class, "macro_f1": 0.3 + 0.1 * number, "classes": names,
                     "confusion_matrix": matrix.tolist(), "pr_curves": curves,
                     "class_counts": dict(zip(names, counts.tolist(), strict=True)),
                     "thresholds_table": [{"label": n, "target": 0.9, "threshold": 0.5, "review_share": 0.01}
                                          for n in names]})
    return project, names


def pr_legend(page) -> dict:
    """The curves drawn and the legend list under the chart (every entry on screen, none empty)."""
    return page.evaluate("""() => {
        const chart = window.Chart.getChart(document.getElementById('chart-pr'));
        const items = Array.from(document.querySelectorAll('#pr-legend li'));
        const page = document.documentElement.clientWidth;
        return {datasets: chart.data.datasets.map((d) => d.label), items: items.map((li) => li.textContent),
                inside: items.every((li) => { const r = li.getBoundingClientRect();
                                              return r.width > 0 && r.left >= 0 && r.right <= page + 1; })};
    }""")


def legend_fits(page, canvas_id: str) -> dict:
    return page.evaluate("""(id) => {
        const chart = window.Chart.getChart(document.getElementById(id));
        const boxes = chart.legend.legendHitBoxes;
        return {datasets: chart.data.datasets.length, items: chart.legend.legendItems.length,
                inside: boxes.every((b) => b.left >= 0 && b.top >= 0 && b.left + b.width <= chart.width + 1
                                           && b.top + b.height <= chart.height + 1)};
    }""", canvas_id)


def nothing_clipped(page) -> list[str]:
    """Cards wider than the page, or whose content spills over their own border."""
    return page.evaluate("""() => {
        const out = [];
        const page = document.documentElement.clientWidth;
        if (document.documentElement.scrollWidth > page + 1) out.push("page scrolls sideways");
        document.querySelectorAll('#dashboard .card').forEach((card) => {
            const r = card.getBoundingClientRect();
            if (r.right > page + 1 || r.left < -1) out.push((card.querySelector('h2') || card).textContent + ' spills');
            if (card.scrollWidth > card.clientWidth + 1) out.push((card.querySelector('h2') || card).textContent
                                                                  + ' overflows its card');
        });
        return out;
    }""")


def column(page, table: str, index: int) -> list[str]:
    return page.locator(f"#{table} tbody tr").evaluate_all(
        f"(rows) => rows.map((r) => r.cells[{index}].textContent)")


@pytest.mark.parametrize("n_labels", [30, 300])
def test_dashboard_is_readable_at_many_labels(n_labels, live_server, page, login, screenshot, make_user, js_errors):
    project, names = build(n_labels, make_user)
    login(page, "lea")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(live_server.url + f"/p/{project.slug}/dashboard/")
    page.wait_for_selector("#dashboard[data-ready]")

    # Per-wave counts: a two-series chart with its whole legend, and a table row per label.
    assert legend_fits(page, "chart-waves") == {"datasets": 2, "items": 2, "inside": True}
    expect(page.locator("#wave-counts tbody tr")).to_have_count(n_labels)
    expect(page.locator("#wave-counts thead th")).to_have_count(WAVES + 2)
    totals = [int(v) for v in column(page, "wave-counts", WAVES + 1)]
    assert totals == sorted(totals, reverse=True) and totals[0] > totals[-1]
    page.locator("#wave-counts thead th", has_text="wave 3").click()
    wave3 = [int(v) for v in column(page, "wave-counts", 3)]
    assert wave3 == sorted(wave3)
    page.locator("#wave-counts thead th", has_text="wave 3").click()
    assert [int(v) for v in column(page, "wave-counts", 3)] == sorted(wave3, reverse=True)
    page.fill("#wave-filter", "number 007")
    expect(page.locator("#wave-counts tbody tr:visible")).to_have_count(1)
    page.fill("#wave-filter", "")

    # PR curves: every label can be chosen; what is drawn is named in the legend, all of it visible.
    expect(page.locator("#pr-labels option")).to_have_count(n_labels)
    start = pr_legend(page)
    assert len(start["datasets"]) == 4 and start["items"] == start["datasets"] and start["inside"]
    chosen = [names[n_labels // 2], names[-1]]  # drawn in the list's order
    page.select_option("#pr-labels", chosen)
    legend = pr_legend(page)
    assert [text.split(" · ")[0].replace(" (rare)", "") for text in legend["items"]] == chosen
    assert legend["items"] == legend["datasets"] and legend["inside"]
    page.select_option("#pr-labels", names[:12])
    expect(page.locator("#pr-note")).to_have_text("12 labels chosen: the first 8 are drawn.")
    legend = pr_legend(page)
    assert len(legend["items"]) == 8 and legend["items"] == legend["datasets"] and legend["inside"]
    # Below MIN_N positives a label is listed with "AP —" and its count, and never drawn.
    few = [name for name, n in zip(names, label_counts(n_labels), strict=True) if n < MIN_N]
    texts = dict(zip(page.locator("#pr-labels option").evaluate_all("(os) => os.map((o) => o.value)"),
                     page.locator("#pr-labels option").all_text_contents(), strict=True))
    assert all("AP —" in texts[n] and "fewer than 5" in texts[n] for n in few)
    assert all("AP —" not in texts[n] for n in names if n not in few)
    assert (len(few) > 0) == (n_labels == 300)
    if few:
        page.select_option("#pr-labels", [few[0], names[0]])
        legend = pr_legend(page)
        drawn = page.evaluate("""() => window.Chart.getChart(document.getElementById('chart-pr'))
                                     .data.datasets.map((d) => d.data.length)""")
        assert f"{label_counts(n_labels)[names.index(few[0])]} positive" in legend["items"][1] and drawn[1] == 0
        assert drawn[0] > 0
    page.fill("#pr-filter", "long name")
    visible = page.locator("#pr-labels option").evaluate_all("(os) => os.filter((o) => !o.hidden).length")
    assert visible == sum("long name" in n for n in names)

    # Sortable tables: F1 of the per-class table, the thresholds table by label.
    page.locator("#per-class thead th", has_text="F1").click()
    cells = column(page, "per-class", 3)
    f1 = [float(v) for v in cells if v != "—"]
    # numbers ascending, then the labels without a figure ("—": too few validation items)
    assert len(f1) >= 5 and f1 == sorted(f1) and cells == [*cells[:len(f1)], *["—"] * (n_labels - len(f1))]
    expect(page.locator("#per-class thead th", has_text="F1")).to_have_attribute("aria-sort", "ascending")
    page.locator("#thresholds thead th").first.focus()
    page.keyboard.press("Enter")
    first_labels = column(page, "thresholds", 0)
    assert first_labels == sorted(first_labels, key=str.lower)

    # Confusion map: the 25 most confused labels unless asked for more.
    shown = min(n_labels, 25)
    expect(page.locator("#confusion tbody tr")).to_have_count(shown)
    if n_labels > 25:
        expect(page.locator("#confusion-note")).to_have_text(f"The 25 of {n_labels} labels most involved in confusions.")
        if n_labels > 100:
            page.select_option("#confusion-top", "100")
            expect(page.locator("#confusion tbody tr")).to_have_count(100)
            expect(page.locator("#confusion thead th")).to_have_count(101)
        page.select_option("#confusion-top", str(n_labels))
        expect(page.locator("#confusion tbody tr")).to_have_count(n_labels)
        page.select_option("#confusion-top", "25")
        expect(page.locator("#confusion tbody tr")).to_have_count(25)

    assert nothing_clipped(page) == []
    screenshot(page, f"dashboard-{n_labels}-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)  # Chart.js resizes on the next frame
    assert nothing_clipped(page) == []
    assert legend_fits(page, "chart-waves")["inside"] and pr_legend(page)["inside"]
    screenshot(page, f"dashboard-{n_labels}-phone")
    assert js_errors == []
