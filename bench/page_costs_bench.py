"""What the lead's dashboard and review pages cost the web process per load, at three project sizes,
and how much of it goes to the parts that run on every load: Cohen's κ with its bootstrap interval
(labeling/annotations/agreement.py ``kappa_interval``, over the fine and the coarse pairs), the
labeled-per-wave chart (labeling/projects/dashboard.py ``labeled_per_wave``), the double-labeled pairs
and the annotator throughput table (labeling/annotations/selectors.py).

Each size is a project in one scratch PostgreSQL database: the airline tweets of
../shared/datasets/airline_tweets.jsonl (12 fine labels under 3 sentiments, so the agreement panel
has its coarse κ too; texts reused with a letter suffix past the file's 14,640), twice as many
items as labeled ones, 20 annotators answering through waves of up to 500 picks, 15 % of the
picks double-labeled, each annotator right 80 % of the time (wrong ones mostly within the same
sentiment), some undone and skipped answers, 5 % imported labels outside any wave, half of the
disagreements adjudicated by the lead (the others open in the review queue with low-confidence
tasks beside them), and an active model with its training report and a score for every item.

Every page is loaded through Django's test client, logged in as the lead, DEBUG off, Redis as
Django's cache (db 5), one persistent database connection; warm-up loads first, then ``--loads``
timed ones: median and p95 of wall time, and of CPU time (this thread plus its PostgreSQL backend:
the machine is shared, so wall time includes waiting for a core). Each load is taken "before"
(agreement.py, selectors.py and dashboard.py as committed at ``--ref``) and "after" (this checkout)
in turn, in one process, so both see the same machine, and both must return the same response. The
share of each part is timed inside the requests (the functions wrapped with a timer) and in isolation.

    .venv/bin/python bench/page_costs_bench.py [--sizes 300,3000,30000] [--loads 15] [--ref 4d0f63e]
        [--previous-as KEY]

Writes bench/results/page_costs.json (``--previous-as``: the run already there is kept under KEY).
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import types
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from load import letters  # bench/ is sys.path[0] when run as a script
from scratch_db import drop_database, recreate_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASET = ROOT.parent / "shared" / "datasets" / "airline_tweets.jsonl"
OUT = ROOT / "bench" / "results" / "page_costs.json"
BEFORE = "4d0f63e"  # the commit this change was made on
ANNOTATORS = 20
DOUBLE_SHARE = 0.15
ACCURACY = 0.8
WAVE_SIZE = 500
BATCH = 5000
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')
PAGES = {"dashboard page": "/p/{slug}/dashboard/", "dashboard API": "/api/projects/{slug}/dashboard/",
         "agreement API": "/api/projects/{slug}/agreement/", "review page": "/p/{slug}/review/"}


def read_dataset() -> list[dict]:
    if not DATASET.is_file():
        sys.exit(f"{DATASET} is missing: the bench builds its projects from it")
    with DATASET.open() as f:
        return [json.loads(line) for line in f]


def wrong_answer(truth: int, groups: list[int], rng) -> int:
    """An annotator's mistake: mostly a label of the same sentiment, else any other label."""
    same = [k for k in range(len(groups)) if groups[k] == groups[truth] and k != truth]
    if same and rng.random() < 0.7:
        return int(rng.choice(same))
    return int(rng.choice([k for k in range(len(groups)) if k != truth]))


def build(slug: str, labeled: int, rows: list[dict], seed: int) -> dict:
    """One project with ``labeled`` labeled items (see the module docstring); returns what the
    timing needs. Rows are bulk-inserted; answer times are spread afterwards, 20 s apart."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from labeling.annotations.models import Annotation, Assignment, ReviewTask
    from labeling.items.models import Item
    from labeling.modeling.models import ItemScore, ModelVersion
    from labeling.projects.models import Label, Membership, Project, Source
    from labeling.waves.models import Wave, WaveItem
    from learner.metrics import classification_report
    from learner.scoring import pack_probs, score_stats
    from learner.text import text_hash

    rng = np.random.default_rng(seed)
    project = Project.objects.create(slug=slug, name=f"Airline {labeled}", overlap=1, double_label_share=DOUBLE_SHARE)
    fine = sorted({row["label"] for row in rows})
    coarse = sorted({row["coarse_label"] for row in rows})
    parents = {name: Label.objects.create(project=project, name=name, order=i) for i, name in enumerate(coarse)}
    labels = [parents[name] if name in parents else
              Label.objects.create(project=project, name=name.split(":", 1)[1], parent=parents[name.split(":")[0]],
                                   order=10 + i) for i, name in enumerate(fine)]
    groups = [coarse.index(name.split(":")[0]) for name in fine]
    sources = {name: Source.objects.create(project=project, name=name, quota=0.0)
               for name in sorted({row["source"] for row in rows})}
    users = get_user_model()
    lead = users.objects.create_user(f"{slug}-lead", password="x")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    annotators = [users.objects.create_user(f"{slug}-ann{i:02d}", password="x") for i in range(ANNOTATORS)]
    Membership.objects.bulk_create([Membership(user=u, project=project, role=Membership.ANNOTATOR) for u in annotators])

    n_items = 2 * labeled
    picks = [rows[i % len(rows)] for i in rng.permutation(n_items)]
    Item.objects.bulk_create([Item(project=project, source=sources[row["source"]], text=text,
                                   text_hash=text_hash(text))
                              for i, row in enumerate(picks)
                              for text in [row["text"] if i < len(rows) else f"{row['text']} {letters(i // len(rows))}"]],
                             batch_size=BATCH)
    item_ids = list(Item.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    truth = np.array([fine.index(row["label"]) for row in picks])

    imported = int(0.05 * labeled)
    through_waves = labeled - imported
    expires = timezone.now()
    answers, assignments, open_disputes, adjudicated = [], [], [], []
    wave_items = []
    waves = [Wave.objects.create(project=project, number=w + 1, state=Wave.CLOSED, size=WAVE_SIZE)
             for w in range(-(-through_waves // WAVE_SIZE))]
    for k in range(through_waves):
        double = rng.random() < DOUBLE_SHARE
        wave_items.append(WaveItem(wave=waves[k // WAVE_SIZE], item_id=item_ids[k], strategy="uncertainty",
                                   reason="bench pick", inclusion_prob=0.2, overlap=2 if double else 1,
                                   batch_number=(k % WAVE_SIZE) // 5, position=k % 5,
                                   slots_taken=2 if double else 1, slots_done=2 if double else 1))
    WaveItem.objects.bulk_create(wave_items, batch_size=BATCH)
    for k, pick in enumerate(wave_items):
        who = rng.choice(ANNOTATORS, size=pick.overlap, replace=False)
        given = []
        for a in who:
            assignment = Assignment(wave_item=pick, annotator=annotators[a], state=Assignment.DONE, expires_at=expires)
            assignments.append(assignment)
            label = int(truth[k]) if rng.random() < ACCURACY else wrong_answer(int(truth[k]), groups, rng)
            if rng.random() < 0.02:  # changed their mind: the first answer undone
                answers.append(Annotation(project=project, item_id=pick.item_id, annotator=annotators[a],
                                          assignment=assignment, label=labels[wrong_answer(label, groups, rng)],
                                          undone=True))
            answers.append(Annotation(project=project, item_id=pick.item_id, annotator=annotators[a],
                                      assignment=assignment, label=labels[label]))
            given.append(label)
        if rng.random() < 0.01:  # another annotator skipped it first
            answers.append(Annotation(project=project, item_id=pick.item_id, annotator=annotators[(who[0] + 1) % ANNOTATORS],
                                      skipped=True, skip_reason="unclear"))
        if len(set(given)) > 1:
            (adjudicated if rng.random() < 0.5 else open_disputes).append((pick.item_id, given, who, int(truth[k])))
    Assignment.objects.bulk_create(assignments, batch_size=BATCH)
    for k in range(through_waves, labeled):
        answers.append(Annotation(project=project, item_id=item_ids[k], label=labels[int(truth[k])],
                                  origin=Annotation.IMPORT))
    for item_id, _, _, right in adjudicated:
        answers.append(Annotation(project=project, item_id=item_id, annotator=lead, origin=Annotation.ADJUDICATION,
                                  label=labels[right]))
    Annotation.objects.bulk_create(answers, batch_size=BATCH)
    tasks = [ReviewTask(project=project, item_id=item_id, reason=ReviewTask.DISAGREEMENT, detail={"answers": [
        {"annotator": annotators[a].username, "label_id": labels[g].pk, "label": labels[g].name}
        for a, g in zip(who, given, strict=True)]}) for item_id, given, who, _ in open_disputes]
    tasks += [ReviewTask(project=project, item_id=item_id, reason=ReviewTask.DISAGREEMENT, resolved_by=lead,
                         resolved_at=expires, resolved_label=labels[right], outcome=ReviewTask.RELABELED)
              for item_id, _, _, right in adjudicated]

    # The active model: a training report on a held-out fifth, and a score for every item.
    proba = rng.dirichlet(np.full(len(fine), 0.3), size=n_items)
    proba[np.arange(n_items), truth] += 1.0
    proba /= proba.sum(axis=1, keepdims=True)
    held = slice(0, max(200, labeled // 5))
    report = classification_report([fine[t] for t in truth[held]], [fine[p] for p in proba[held].argmax(axis=1)],
                                   proba[held], fine)
    label_map = [label.name for label in labels]
    version = ModelVersion.objects.create(
        project=project, number=1, state=ModelVersion.ACTIVE, train_size=labeled, label_map=label_map,
        label_ids={label.name: label.pk for label in labels}, thresholds={name: 0.6 for name in label_map},
        metrics={"validation": report, "class_counts": {label.name: int((truth[:labeled] == i).sum())
                                                        for i, label in enumerate(labels)}})
    stats = score_stats(proba)
    ItemScore.objects.bulk_create([
        ItemScore(item_id=item_id, model_version=version, probs=pack_probs(proba[i]),
                  top_label=int(stats["top_label"][i]), top_prob=float(stats["top_prob"][i]),
                  margin=float(stats["margin"][i]), entropy=float(stats["entropy"][i]))
        for i, item_id in enumerate(item_ids)], batch_size=BATCH)
    unsure = [i for i in range(labeled, n_items) if stats["top_prob"][i] < 0.5][: max(20, labeled // 30)]
    tasks += [ReviewTask(project=project, item_id=item_ids[i], reason=ReviewTask.LOW_CONFIDENCE, model_version=1,
                         detail={"model_version": 1, "predicted": label_map[int(stats["top_label"][i])],
                                 "predicted_label_id": labels[int(stats["top_label"][i])].pk,
                                 "prob": round(float(stats["top_prob"][i]), 4), "band": [0.3, 0.6]})
              for i in unsure]
    ReviewTask.objects.bulk_create(tasks, batch_size=BATCH)
    with connection.cursor() as cursor:  # answers in the order given, 20 s apart, ending now
        cursor.execute(f"UPDATE {Annotation._meta.db_table} SET created_at = now() - (%s - id) * interval '20 seconds' "
                       "WHERE project_id = %s", [max(a.pk for a in answers), project.pk])
        cursor.execute("ANALYZE")
    return {"project": project, "lead": lead, "version": version, "items": n_items, "answers": len(answers),
            "double_labeled_picks": sum(p.overlap == 2 for p in wave_items), "waves": len(waves),
            "open_review_tasks": len(open_disputes) + len(unsure)}


def backend_cpu_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def pct(values, q) -> float:
    return round(float(np.percentile(values, q)), 1)


class PartTimer:
    """Wraps module functions so that their time inside the timed requests is summed per load."""

    def __init__(self, targets: list[tuple[str, object, str]]):
        self.targets, self.spent = targets, defaultdict(float)

    @contextmanager
    def wrapping(self):
        saved = [getattr(module, attr) for _, module, attr in self.targets]

        def timed(name, func):
            def wrapper(*args, **kwargs):
                t = time.perf_counter()
                try:
                    return func(*args, **kwargs)
                finally:
                    self.spent[name] += (time.perf_counter() - t) * 1000
            return wrapper

        for (name, module, attr), func in zip(self.targets, saved, strict=True):
            setattr(module, attr, timed(name, func))
        try:
            yield self
        finally:
            for (_, module, attr), func in zip(self.targets, saved, strict=True):
                setattr(module, attr, func)


def module_at(ref: str, path: str, name: str) -> types.ModuleType:
    """``path`` as committed at ``ref``, imported as a module of its own (its relative imports resolve
    in its package, to this checkout's modules)."""
    source = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    module = types.ModuleType(name)
    module.__file__ = f"{ref}:{path}"
    module.__package__ = str(Path(path).parent).replace("/", ".")
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - the repository's own code
    return module


class Sides:
    """"before": agreement.py, selectors.py and dashboard.py as committed at ``ref`` (no interval
    cache, pool scores read on every dashboard load, cursors planned for their first rows, every
    answer read for the pairs and for the throughput's gaps, the pairs read twice per dashboard);
    "after": this checkout. Everything else is this checkout on both sides: the views reach the
    modules through ``api_waves.dashboard`` and the annotation views' ``selectors``, which each side
    points at its own; the committed selectors.py reads the committed agreement.py, and the
    committed dashboard.py the committed selectors.py."""

    def __init__(self, ref: str):
        from labeling.annotations import agreement, review_views, selectors
        from labeling.annotations import api as annotation_api
        from labeling.projects import api_waves, dashboard

        agreement_before = module_at(ref, "labeling/annotations/agreement.py", "agreement_before")
        selectors_before = module_at(ref, "labeling/annotations/selectors.py", "selectors_before")
        dashboard_before = module_at(ref, "labeling/projects/dashboard.py", "dashboard_before")
        selectors_before.agreement = agreement_before
        dashboard_before.annotation_selectors = selectors_before
        self.api_waves, self.views = api_waves, (annotation_api, review_views)
        self.modules = {"before": (agreement_before, dashboard_before, selectors_before),
                        "after": (agreement, dashboard, selectors)}

    def use(self, side: str) -> None:
        _, self.api_waves.dashboard, selectors = self.modules[side]
        for view in self.views:
            view.selectors = selectors

    def targets(self) -> list[tuple[str, object, str]]:
        from labeling.annotations import review_selectors, review_views

        # Nested: agreement_summary holds double_labeled_pairs and kappa_interval; annotator_throughput
        # holds double_labeled_pairs too (unless handed the pairs) and the median gaps.
        out = [("review_groups", review_selectors, "review_groups"), ("routing_report", review_views, "routing_report")]
        for agreement, dashboard, selectors in self.modules.values():
            out += [("kappa_interval", agreement, "kappa_interval")]
            out += [(name, dashboard, name) for name in ("labeled_per_wave", "scored_labeled_items", "version_estimates")]
            out += [(name, selectors, name) for name in ("agreement_summary", "double_labeled_pairs", "annotator_throughput",
                                                         "median_answer_gaps_sql") if hasattr(selectors, name)]
        return out


def comparable(page: str, content: bytes) -> bytes:
    """The response as the two sides must agree on it: a page's CSRF token differs per request, and
    an annotator's answers of the last 24 hours change as the clock passes answers 20 s apart."""
    if page.endswith("page"):
        return CSRF.sub(b"", content)
    body = json.loads(content)
    for row in body.get("throughput") or []:
        row.pop("last_24h", None)
    return json.dumps(body, sort_keys=True).encode()


def load_pages(client, slug: str, loads: int, warmup: int, sides: Sides) -> dict:
    """Each page ``warmup`` + ``loads`` times per side, the sides alternating load by load; each
    pair of loads must give the same response."""
    from django.db import connection

    out = {side: {page: defaultdict(list) for page in PAGES} for side in sides.modules}
    for i in range(warmup + loads):
        for page, url in PAGES.items():
            seen = {}
            for side in sides.modules:
                sides.use(side)
                timer = PartTimer(sides.targets())
                connection.ensure_connection()
                pid = connection.connection.get_backend_pid()
                with timer.wrapping():
                    cpu0, backend0, t = time.thread_time_ns(), backend_cpu_ns(pid), time.perf_counter()
                    response = client.get(url.format(slug=slug))
                    wall = (time.perf_counter() - t) * 1000
                    cpu = (time.thread_time_ns() - cpu0 + backend_cpu_ns(pid) - backend0) / 1e6
                assert response.status_code == 200, (url, response.status_code, response.content[:300])
                seen[side] = comparable(page, response.content)
                rec = out[side][page]
                if i == 0:
                    rec["first"].append(wall)
                if i < warmup:
                    continue
                rec["wall"].append(wall)
                rec["cpu"].append(cpu)
                for name, n in timer.spent.items():
                    rec[name].append(n)
            assert len(set(seen.values())) == 1, f"{page}: before and after answer differently"
    sides.use("after")
    summary = {}
    for side, pages in out.items():
        summary[side] = {}
        for page, rec in pages.items():
            row = {"loads": len(rec["wall"]), "median_ms": round(statistics.median(rec["wall"]), 1),
                   "p95_ms": pct(rec["wall"], 95), "cpu_median_ms": round(statistics.median(rec["cpu"]), 1),
                   "cpu_p95_ms": pct(rec["cpu"], 95), "first_load_ms": round(rec["first"][0], 1)}
            parts = {name: round(statistics.median(values + [0.0] * (row["loads"] - len(values))), 1)
                     for name, values in rec.items() if name not in ("wall", "cpu", "first")}
            if parts:
                row["parts_inside_median_ms"] = parts
                row["parts_share_of_median"] = {name: round(v / row["median_ms"], 3) for name, v in parts.items()}
            summary[side][page] = row
    return summary


def isolated(func, repeat: int) -> dict:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        func()
        times.append((time.perf_counter() - t) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "p95_ms": pct(times, 95), "runs": repeat}


def parts_in_isolation(built: dict, sides: Sides, repeat: int) -> dict:
    """The parts timed alone, before and after (the interval "after": a cache hit; "before" is
    what a miss costs), and a loop task's existence check (labeling/loop/executions.py
    ``gone_row``: up to three EXISTS queries on every task call). "after" also times the two
    panels with the pairs read once and handed to both, as a page showing both can."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from labeling.loop import tasks
    from labeling.loop.executions import gone_row
    from labeling.modeling.models import TaskRun

    project, version = built["project"], built["version"]
    names = {label.pk: label.name for label in project.labels.order_by("order", "name")}
    parent_of = dict(project.labels.filter(parent__isnull=False).values_list("pk", "parent_id"))
    after_agreement, _, after_selectors = sides.modules["after"]
    pairs = [(la, lb) for _, _, la, _, lb in after_selectors.double_labeled_pairs(project)]
    coarse = after_agreement.map_pairs(pairs, parent_of)
    out = {"pairs": len(pairs)}
    for side, (agreement, dashboard, selectors) in sides.modules.items():
        sides.use(side)
        out[side] = {
            "kappa_interval_fine_pairs": isolated(lambda a=agreement: a.kappa_interval(pairs), repeat),
            "kappa_interval_coarse_pairs": isolated(lambda a=agreement: a.kappa_interval(coarse), repeat),
            "double_labeled_pairs": isolated(lambda s=selectors: s.double_labeled_pairs(project), repeat),
            "agreement_summary": isolated(lambda s=selectors: s.agreement_summary(project), repeat),
            "annotator_throughput": isolated(lambda s=selectors: s.annotator_throughput(project), repeat),
            "labeled_per_wave": isolated(lambda d=dashboard: d.labeled_per_wave(project, names), repeat),
        }

    def both_panels_sharing_pairs():
        rows = after_selectors.double_labeled_pairs(project)
        after_selectors.annotator_throughput(project, pairs=rows)
        after_selectors.agreement_summary(project, pairs=rows)

    out["after"]["throughput_and_agreement_each_reading_pairs"] = isolated(
        lambda: (after_selectors.annotator_throughput(project), after_selectors.agreement_summary(project)), repeat)
    out["after"]["throughput_and_agreement_sharing_pairs"] = isolated(both_panels_sharing_pairs, repeat)
    sides.use("after")
    out["scored_labeled_items (before only)"] = isolated(
        lambda: sides.modules["before"][1].scored_labeled_items(project, version, names), repeat)
    run = TaskRun.objects.create(project=project, kind="scoring", state=TaskRun.RUNNING)
    args = (version.pk, 0, 1000, run.pk)
    with CaptureQueriesContext(connection) as captured:
        gone_row(tasks.score_chunk, args, {})
    out["task_existence_check_score_chunk"] = {**isolated(lambda: gone_row(tasks.score_chunk, args, {}), 50),
                                               "queries": len(captured.captured_queries)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="300,3000,30000", help="labeled items per project, comma-separated")
    ap.add_argument("--loads", type=int, default=15, help="timed loads of each page per side")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7, help="runs of each part timed in isolation")
    ap.add_argument("--ref", default=BEFORE,
                    help="the commit whose agreement.py, selectors.py and dashboard.py are 'before'")
    ap.add_argument("--db", default="postgres://postgres@127.0.0.1:5432/wt_d_page_costs")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/5", help="Django's cache (Redis, as in production)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--previous-as", metavar="KEY",
                    help="keep the run already in --out under this key (without the runs it kept itself)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    ref = subprocess.run(["git", "rev-parse", "--short", args.ref], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()

    recreate_database(args.db)
    os.environ.update({"DATABASE_URL": args.db, "REDIS_URL": args.redis, "CELERY_TASK_ALWAYS_EAGER": "1",
                       "DEBUG": "0", "DB_CONN_MAX_AGE": "86400", "HF_HUB_OFFLINE": "1", "LOG_LEVEL": "WARNING",
                       "SECRET_KEY": "page-costs-bench-" + "x" * 40, "ALLOWED_HOSTS": "testserver",
                       "SECURE_SSL_REDIRECT": "0", "DJANGO_SETTINGS_MODULE": "config.settings"})
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection, connections
    from django.test import Client

    from labeling.annotations import agreement

    # Pages name their static files without the manifest `collectstatic` writes (a dict look-up either way).
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("migrate", verbosity=0)
    rows = [row for row in read_dataset() if row.get("split") == "train"]
    sides = Sides(ref)
    redis_client = cache._cache.get_client(None, write=True)

    def forget_intervals():
        keys = list(redis_client.scan_iter(match=cache.make_key(agreement.INTERVAL_CACHE_PREFIX + "*"), count=1000))
        if keys:
            redis_client.delete(*keys)

    load_before = os.getloadavg()
    results = []
    for size in sizes:
        t = time.perf_counter()
        built = build(f"airline-{size}", size, rows, seed=size)
        build_s = round(time.perf_counter() - t, 1)
        client = Client()
        client.force_login(built["lead"])
        forget_intervals()  # the first load after computes the intervals, as after any change of the answers
        pages = load_pages(client, built["project"].slug, args.loads, args.warmup, sides)
        parts = parts_in_isolation(built, sides, args.repeat)
        results.append({"labeled_items": size, "items": built["items"], "answers": built["answers"],
                        "double_labeled_picks": built["double_labeled_picks"], "waves": built["waves"],
                        "open_review_tasks": built["open_review_tasks"], "build_seconds": build_s,
                        "pages": pages, "parts_in_isolation": parts})
        print(json.dumps({"labeled_items": size, **{side: {page: (row["median_ms"], row["p95_ms"])
                                                           for page, row in p.items()} for side, p in pages.items()}}),
              flush=True)

    out = {
        "command": "python bench/page_costs_bench.py " + " ".join(sys.argv[1:]),
        "what": "server-side cost of the lead's pages per load: Django test client, logged in as the lead, DEBUG "
                "off, Redis as Django's cache, one persistent PostgreSQL connection; warm-up loads dropped "
                "(first_load_ms: the very first, which computes the intervals after); before and after alternate "
                "load by load and must return the same response. parts_inside_median_ms: a function's time inside "
                "the request (nested: agreement_summary holds kappa_interval and double_labeled_pairs, "
                "annotator_throughput holds double_labeled_pairs and median_answer_gaps_sql); share: of "
                "the page's median wall time. cpu: this thread plus its PostgreSQL backend (the machine is shared: "
                "wall time includes waiting for a core)",
        "before": f"labeling/annotations/agreement.py, labeling/annotations/selectors.py and "
                  f"labeling/projects/dashboard.py as committed at {ref}",
        "after": "this checkout: κ intervals kept in Django's cache under a digest of their pairs; pool scores read "
                 "only for a chart the training report lacks; labeled-per-wave cursors planned for every row; the "
                 "double-labeled pairs read only from items two or more annotators answered; the throughput's "
                 "median gaps computed in PostgreSQL",
        "data": f"{DATASET.name} (train split), {ANNOTATORS} annotators, {DOUBLE_SHARE:.0%} of picks double-labeled, "
                f"annotators {ACCURACY:.0%} right, waves of {WAVE_SIZE}, 5 % imported labels, twice as many items as "
                "labeled ones, an active model with its training report and a score per item",
        "loads_per_side": args.loads, "warmup_loads": args.warmup,
        "database": f"PostgreSQL {connection.pg_version // 10000}",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1_5_15_before": [round(x, 1) for x in load_before],
                    "load_average_1_5_15_after": [round(x, 1) for x in os.getloadavg()]},
        "sizes": results,
    }
    connections.close_all()
    if not args.keep:
        drop_database(args.db)
    if args.previous_as and Path(args.out).is_file():
        previous = json.loads(Path(args.out).read_text())
        out[args.previous_as] = {key: value for key, value in previous.items() if key in out}  # not its own previous
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
