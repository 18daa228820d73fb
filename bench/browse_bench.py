"""Item browser on 1,000,000 items in PostgreSQL: p50 / p95 of the API call "item list with two
filters plus a text search" (GET /api/projects/<slug>/items/?q=…&<filter>&<filter>).

Builds a scratch database (bulk COPY): synthetic texts drawn from a Zipf-distributed vocabulary
(so some search terms match 20 % of the pool and others a few dozen items), 4 sources, 12
labels, answers on ~5 % of the items (imports, annotators, skips, undone ones, disagreements),
10 waves of picks, an active model's score for every item, review tasks. Then times the call
through Django's test client (the whole request: middleware, DRF, filter set, keyset page,
capped count, per-row extras), warm, with varied terms and filter pairs:

1. right after the load, with no planner statistics at all (autovacuum is off for these
   tables, as it may be after a bulk load), and
2. after ANALYZE,

so a plan that only works with fresh statistics shows up as a gap between the two. Then, after
ANALYZE, searches in unusual text: one item in 500 carries a Chinese sentence, and the queries are
Chinese words of three characters (trigram index) and of two (no trigram: row by row), parts of
words no item has as a word (found as substrings), and words typed with an accent or a zero-width
space (folded to the plain word). Code from before the folded search columns runs the same script
(it finds none of these, but its time is measured the same way), so results can be set side by side.

    nice .venv/bin/python bench/browse_bench.py [--n 1000000] [--db postgres://postgres@127.0.0.1:5432/wt_browse_bench] [--keep]
"""
import argparse
import importlib
import io
import json
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from scratch_db import drop_database, recreate_database  # bench/ is sys.path[0] when run as a script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SOURCES = ["email", "chat", "phone", "forum"]
LABELS = ["billing", "refund", "login", "fraud", "delivery", "card", "loan", "fees", "account", "app", "transfer",
          "other"]
SYLLABLES = ["ka", "lo", "mi", "ter", "sun", "dar", "pel", "vo", "ri", "nak", "bel", "tor", "shi", "gan", "lu",
             "fen", "dra", "co", "min", "zel", "po", "rat", "qui", "mon", "ex"]
BATCH = 100_000
SEARCH_MIGRATION = None  # the migration that defines the search columns and indexes (imported after setup)
# Chinese sentences one item in UNUSUAL_EVERY carries, and words of them the unusual phase searches.
CJK_SENTENCES = ["我的银行卡被冻结了，请帮我解冻。", "转账一直显示处理中，已经三天了。", "信用卡年费为什么扣了两次？",
                 "手机银行登录不了，验证码收不到。", "退款什么时候到账？订单已取消。"]
CJK_WORDS_3 = ["银行卡", "信用卡", "验证码", "处理中", "已取消"]
CJK_WORDS_2 = ["冻结", "转账", "年费", "登录", "退款"]
UNUSUAL_EVERY = 500
def vocabulary(size: int, rng) -> list[str]:
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES, size=rng.integers(2, 4))))
    return sorted(words, key=lambda w: (len(w), w))


def texts(n: int, vocab: list[str], rng):
    """Yield n texts of 8–30 words; word k is drawn with weight 1/(k+3)^1.05 (Zipf-like); one word
    in five carries an English suffix, so stemming has work to do."""
    weights = 1.0 / (np.arange(len(vocab)) + 3.0) ** 1.05
    weights /= weights.sum()
    suffixes = np.array(["", "", "", "", "s", "ing", "ed", "er"])
    vocab_arr = np.array(vocab)
    for start in range(0, n, BATCH):
        m = min(BATCH, n - start)
        lengths = rng.integers(8, 31, size=m)
        words = vocab_arr[rng.choice(len(vocab), size=int(lengths.sum()), p=weights)]
        words = np.char.add(words, suffixes[rng.integers(0, len(suffixes), size=len(words))])
        cut = np.cumsum(lengths)[:-1]
        for chunk in np.split(words, cut):
            yield " ".join(chunk.tolist())


def copy(cursor, table: str, columns: str, lines) -> None:
    buffer = io.StringIO()
    buffer.writelines(lines)
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)


def build(n: int, seed: int) -> dict:
    """The scratch project: items, answers, waves, scores, review tasks (bulk COPY throughout)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from labeling.annotations.models import Annotation, ReviewTask
    from labeling.items.models import Item
    from labeling.modeling.models import ItemScore, ModelVersion
    from labeling.projects.models import Label, Membership, Project, Source
    from labeling.waves.models import Wave, WaveItem

    global SEARCH_MIGRATION
    try:
        SEARCH_MIGRATION = importlib.import_module("labeling.items.migrations.0007_item_search_text")
    except ModuleNotFoundError:  # code from before the folded search columns (a side-by-side run)
        SEARCH_MIGRATION = importlib.import_module("labeling.items.migrations.0003_item_browse")
    trigram = getattr(SEARCH_MIGRATION, "SUBSTRING_INDEX_NAME", None)
    rng = np.random.default_rng(seed)
    project = Project.objects.create(slug="bench", name="Bench")
    sources = [Source.objects.create(project=project, name=s, quota=0.25) for s in SOURCES]
    labels = [Label.objects.create(project=project, name=name, order=i) for i, name in enumerate(LABELS)]
    users = get_user_model()
    lead = users.objects.create_user("lead", password="x")
    annotators = [users.objects.create_user(f"ann{i}", password="x") for i in range(4)]
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    for user in annotators:
        Membership.objects.create(user=user, project=project, role=Membership.ANNOTATOR)
    vocab = vocabulary(4_000, rng)
    timings = {}
    tables = [m._meta.db_table for m in (Item, Annotation, WaveItem, ItemScore, ReviewTask)]
    with connection.cursor() as cursor:
        for table in tables:  # the statistics stay as stale as a bulk load leaves them
            cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        # One GIN build after the load is much faster than 1M index insertions during it (the
        # search document column itself is generated row by row as COPY inserts).
        cursor.execute(f"DROP INDEX {SEARCH_MIGRATION.INDEX_NAME}")
        if trigram:
            cursor.execute(f"DROP INDEX IF EXISTS {trigram}")
        t = time.perf_counter()
        first_id = None
        src = rng.integers(0, len(sources), size=n)
        groups = np.where(rng.random(n) < 0.05, rng.integers(0, n // 40, size=n), -1)
        for start in range(0, n, BATCH):
            m = min(BATCH, n - start)
            chunk = list(texts(m, vocab, rng))
            for k in range((-start) % UNUSUAL_EVERY, m, UNUSUAL_EVERY):
                chunk[k] += " " + CJK_SENTENCES[(start + k) // UNUSUAL_EVERY % len(CJK_SENTENCES)]
            lines = (
                f"{project.id}\t{sources[src[start + i]].id}\tB{start + i:07d}\t{text}\t{uuid.uuid4().hex}"
                f"{uuid.uuid4().hex}\t{groups[start + i] if groups[start + i] >= 0 else chr(92) + 'N'}\t{{}}\t"
                f"2026-01-01 00:00:00+00\tf\tf\n"
                for i, text in enumerate(chunk)
            )
            copy(cursor.cursor, Item._meta.db_table, "project_id, source_id, external_id, text, text_hash, dup_group, "
                 "metadata, created_at, excluded, pinned_for_next_wave", lines)
        cursor.execute(f"SELECT min(id), max(id) FROM {Item._meta.db_table} WHERE project_id = %s", [project.id])
        first_id, last_id = cursor.fetchone()
        timings["copy_items_s"] = round(time.perf_counter() - t, 1)
        ids = np.arange(first_id, last_id + 1)

        t = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(SEARCH_MIGRATION.CREATE_INDEX_SQL)
        timings["gin_index_s"] = round(time.perf_counter() - t, 1)
        if trigram:
            t = time.perf_counter()
            cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")
            if cursor.fetchone()[0]:
                cursor.execute(SEARCH_MIGRATION.CREATE_SUBSTRING_INDEX_SQL)
            timings["trigram_index_s"] = round(time.perf_counter() - t, 1)

        # Answers on ~5 %: imports, annotators (some double with disagreement), skips, undone ones.
        t = time.perf_counter()
        answered = rng.choice(ids, size=n // 20, replace=False)
        label_weights = 1.0 / (np.arange(len(labels)) + 1.0)
        label_weights /= label_weights.sum()
        rows = []
        for k, item_id in enumerate(answered.tolist()):
            label = labels[rng.choice(len(labels), p=label_weights)].id
            kind = k % 10
            user = annotators[k % len(annotators)].id
            if kind < 5:
                rows.append((item_id, "\\N", label, "f", "", "import", "f"))
            elif kind < 8:
                rows.append((item_id, user, label, "f", "", "annotator", "f"))
                if kind == 7:  # a second annotator disagrees
                    other = labels[(labels.index(next(x for x in labels if x.id == label)) + 1) % len(labels)].id
                    rows.append((item_id, annotators[(k + 1) % len(annotators)].id, other, "f", "", "annotator", "f"))
            elif kind == 8:
                rows.append((item_id, user, "\\N", "t", "unclear", "annotator", "f"))
            else:
                rows.append((item_id, user, label, "f", "", "annotator", "t"))
        copy(cursor.cursor, Annotation._meta.db_table,
             "project_id, item_id, annotator_id, label_id, skipped, skip_reason, origin, undone, client_id, created_at, "
             "suggestion_shown",
             (f"{project.id}\t{i}\t{u}\t{lab}\t{s}\t{r}\t{o}\t{d}\t{uuid.uuid4()}\t2026-01-02 00:00:00+00\tf\n"
              for i, u, lab, s, r, o, d in rows))
        disputed = answered[7::10]
        ReviewTask.objects.bulk_create([ReviewTask(project=project, item_id=int(i), reason=ReviewTask.DISAGREEMENT)
                                        for i in disputed], batch_size=5_000)
        timings["copy_answers_s"] = round(time.perf_counter() - t, 1)

        # Ten waves of 2,000 picks; the last one open.
        t = time.perf_counter()
        strategies = ["rare", "uncertainty", "diversity", "random"]
        picked = rng.choice(ids, size=20_000, replace=False)
        for number in range(1, 11):
            wave = Wave.objects.create(project=project, number=number, size=2_000,
                                       state=Wave.OPEN if number == 10 else Wave.CLOSED)
            part = picked[(number - 1) * 2_000:number * 2_000]
            copy(cursor.cursor, WaveItem._meta.db_table,
                 "wave_id, item_id, strategy, reason, inclusion_prob, design, likely_rare, overlap, batch_number, position, "
                 "slots_taken, slots_done",
                 (f"{wave.id}\t{i}\t{strategies[k % 4]}\tbench pick\t{0.1 + 0.8 * (k % 7) / 7:.3f}\t{{}}\tf\t1\t{k // 20}\t{k % 20}"
                  f"\t{0 if number == 10 else 1}\t{0 if number == 10 else 1}\n"
                  for k, i in enumerate(part.tolist())))
        timings["waves_s"] = round(time.perf_counter() - t, 1)

        # The active model scored every item.
        t = time.perf_counter()
        version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE,
                                              label_map=[label.name for label in labels])
        for start in range(0, n, BATCH):
            part = ids[start:start + BATCH]
            logits = rng.normal(size=(len(part), len(labels))) * 2.0
            proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            top = proba.argmax(axis=1)
            top_p = proba.max(axis=1)
            hexed = proba.astype("<f2").tobytes().hex()
            width = 4 * len(labels)
            copy(cursor.cursor, ItemScore._meta.db_table,
                 "item_id, model_version_id, probs, top_label, top_prob, margin, entropy",
                 (f"{item_id}\t{version.id}\t\\\\x{hexed[r * width:(r + 1) * width]}\t{top[r]}\t{top_p[r]:.5f}\t0.1\t0.5\n"
                  for r, item_id in enumerate(part.tolist())))
        timings["copy_scores_s"] = round(time.perf_counter() - t, 1)
    return {"project": project, "lead": lead, "vocab": vocab, "timings": timings}


def requests(vocab: list[str], rng) -> list[dict]:
    """60 queries: 20 common, 20 middling and 20 rare words (a few as two-word queries), each
    with one of five pairs of filters."""
    terms = ([vocab[i] for i in rng.choice(40, 20, replace=False)] + [vocab[i] for i in rng.choice(
        np.arange(200, 1_000), 20, replace=False)] + [vocab[i] for i in rng.choice(np.arange(2_500, 4_000), 20,
                                                                                   replace=False)])
    for k in range(0, 60, 7):
        terms[k] = f"{terms[k]} {vocab[int(rng.integers(0, 300))]}"
    pairs = [
        lambda k: {"source": SOURCES[k % 4], "state": "unlabeled"},
        lambda k: {"source": SOURCES[k % 4], "predicted": LABELS[k % 12]},
        lambda k: {"predicted": LABELS[k % 12], "min_confidence": "0.6"},
        lambda k: {"state": "labeled", "label": LABELS[k % 3]},
        lambda k: {"wave": str(1 + k % 10), "source": SOURCES[k % 4]},
    ]
    return [{"q": term, **pairs[k % len(pairs)](k)} for k, term in enumerate(terms)]


def unusual_requests(vocab: list[str], rng) -> dict[str, list[dict]]:
    """Queries per kind of unusual text, each with one of the same five filter pairs as requests()."""
    words = set(vocab)
    middling = [vocab[i] for i in rng.choice(np.arange(200, 1_000), 40, replace=False)]
    parts = [w[:-1] for w in middling if len(w) > 4 and w[:-1] not in words][:10]  # no item has them as words
    accented = [w.replace("a", "á", 1).replace("o", "ó", 1) for w in middling if "a" in w or "o" in w][:10]
    zero_width = [w[:2] + "\u200b" + w[2:] for w in middling[10:20]]
    kinds = {"chinese_3_chars": CJK_WORDS_3 * 2, "chinese_2_chars": CJK_WORDS_2 * 2, "part_of_a_word": parts,
             "accent_typed": accented, "zero_width_typed": zero_width}
    base = requests(vocab, np.random.default_rng(1))
    return {kind: [{**base[k], "q": term} for k, term in enumerate(terms)] for kind, terms in kinds.items()}


def backend_cpu_ns(pid: int) -> int:
    """Nanoseconds the PostgreSQL backend has run on a CPU (/proc/<pid>/schedstat, first field)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def pct(values, q) -> float:
    return round(float(np.percentile(values, q)), 1)


def measure(client, slug: str, queries: list[dict], passes: int, extra: dict | None = None) -> dict:
    """Wall time of each request, and its CPU time (this thread + its PostgreSQL backend): on a
    machine shared with other jobs, wall time includes waiting for a core; CPU time does not."""
    from django.db import connection

    url = f"/api/projects/{slug}/items/"
    for params in queries[:10]:  # warm-up: caches, connections, first plans
        client.get(url, {**params, **(extra or {})})
    times, cpus, per_pair, matches = [], [], {}, []
    for _ in range(passes):
        for params in queries:
            connection.ensure_connection()
            pid = connection.connection.get_backend_pid()
            cpu0, backend0 = time.thread_time_ns(), backend_cpu_ns(pid)
            t = time.perf_counter()
            response = client.get(url, {**params, **(extra or {})})
            elapsed = (time.perf_counter() - t) * 1000
            assert connection.connection.get_backend_pid() == pid, "the connection changed during a request"
            cpus.append((time.thread_time_ns() - cpu0 + backend_cpu_ns(pid) - backend0) / 1e6)
            assert response.status_code == 200, (params, response.content[:300])
            body = response.json()
            times.append(elapsed)
            per_pair.setdefault(" + ".join(sorted(k for k in params if k != "q")), []).append(elapsed)
            matches.append(body["count"] if body["count"] is not None else len(body["results"]))
    return {
        "requests": len(times), "p50_ms": round(statistics.median(times), 1), "p95_ms": pct(times, 95),
        "max_ms": round(max(times), 1), "cpu_p50_ms": round(statistics.median(cpus), 1), "cpu_p95_ms": pct(cpus, 95),
        "p95_ms_by_filter_pair": {k: pct(v, 95) for k, v in sorted(per_pair.items())},
        ("matches_per_query" if extra else "results_on_first_page"): {
            "min": int(min(matches)), "median": int(statistics.median(matches)), "max": int(max(matches))},
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


def plain_page(client, slug: str, n: int = 30) -> dict:
    """The same call with no filter and no search (first page), for a ratio on a shared machine."""
    url = f"/api/projects/{slug}/items/"
    client.get(url)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        assert client.get(url).status_code == 200
        times.append((time.perf_counter() - t) * 1000)
    return {"requests": n, "p50_ms": round(statistics.median(times), 1), "p95_ms": pct(times, 95)}


def phase(client, slug: str, queries: list[dict], passes: int) -> dict:
    result = measure(client, slug, queries, passes)
    result["no_filter_first_page"] = plain_page(client, slug)
    result["p50_ratio_to_no_filter_page"] = round(result["p50_ms"] / result["no_filter_first_page"]["p50_ms"], 2)
    return result


def plan_of(slug: str, params: dict, project, lead) -> str:
    """EXPLAIN of the page query the API runs for these parameters, under the browser's pinned
    settings and after its id probes (labeling/items/narrowing.py)."""
    from django.db import connection
    from django.test import RequestFactory
    from rest_framework.request import Request

    from labeling.items import browse, narrowing
    from labeling.items.filters import ItemFilterSet

    with narrowing.pinned_plans():
        request = Request(RequestFactory().get("/", params))
        filterset = ItemFilterSet(request.query_params, queryset=browse.pool(project), project=project)
        assert filterset.is_valid(), filterset.errors
        sql, sql_params = filterset.qs.order_by("-id")[:51].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, sql_params)
            return "\n".join(row[0] for row in cursor.fetchall())[:3000]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--db", default="postgres://postgres@127.0.0.1:5432/wt_browse_bench")
    ap.add_argument("--passes", type=int, default=2, help="passes over the 60 queries after ANALYZE")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "browse.json"))
    args = ap.parse_args()

    recreate_database(args.db)
    os.environ["DATABASE_URL"] = args.db
    os.environ.pop("REDIS_URL", None)
    os.environ["DB_CONN_MAX_AGE"] = "86400"  # one connection for the whole run (CPU time is read per backend)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections
    from rest_framework.test import APIClient

    settings.DEBUG = False  # no per-query logging in the timed requests
    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    built = build(args.n, seed=0)
    build_s = round(time.perf_counter() - t0, 1)
    project, lead = built["project"], built["lead"]
    client = APIClient()
    client.force_authenticate(lead)
    queries = requests(built["vocab"], np.random.default_rng(1))
    example = queries[1]

    stale = phase(client, project.slug, queries, passes=1)
    stale["plan_example"] = plan_of(project.slug, example, project, lead)
    t = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    analyze_s = round(time.perf_counter() - t, 1)
    analyzed = phase(client, project.slug, queries, passes=args.passes)
    analyzed["plan_example"] = plan_of(project.slug, example, project, lead)
    counted = measure(client, project.slug, queries, passes=1, extra={"count": "true"})
    unusual = {kind: measure(client, project.slug, searches, passes=2)
               for kind, searches in unusual_requests(built["vocab"], np.random.default_rng(2)).items()}
    broad = {"q": built["vocab"][0], "source": SOURCES[0], "state": "unlabeled"}
    analyzed["plan_broad_filters"] = {"params": broad, "plan": plan_of(project.slug, broad, project, lead)}

    out = {
        "items": args.n, "database": f"PostgreSQL {connection.pg_version // 10000}",
        "call": "GET /api/projects/<slug>/items/?q=<term>&<filter>&<filter> (a page of 50 with its row extras, no count; "
                "the count=true variant is measured separately)",
        "client": "Django test client, force-authenticated lead, warm (10 warm-up requests per phase)",
        "queries": "60: 20 common, 20 middling, 20 rare words (some two-word), each with one of 5 filter pairs",
        "example_query": example,
        "target_p95_ms": 200,
        "before_analyze": stale,
        "after_analyze": analyzed,
        "after_analyze_with_count": counted,
        "unusual_text_after_analyze": unusual,
        "unusual_text_examples": {kind: [r["q"] for r in rows[:3]] for kind, rows in
                                  unusual_requests(built["vocab"], np.random.default_rng(2)).items()},
        "search_columns_from": SEARCH_MIGRATION.__name__.rsplit(".", 1)[1],
        "plans": "every statement runs with index scans and nested loops pinned, JIT off (labeling/items/narrowing.py)",
        "build_seconds": build_s, "build_steps": built["timings"], "analyze_seconds": analyze_s,
        "machine": {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg(), "python": platform.python_version()},
    }
    connections.close_all()
    if not args.keep:
        drop_database(args.db)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k not in ("before_analyze", "after_analyze")}, indent=2))
    for name in ("before_analyze", "after_analyze", "after_analyze_with_count"):
        print(name, {k: v for k, v in out[name].items() if not k.startswith("plan")})
    for kind, result in unusual.items():
        print("unusual", kind, {k: result[k] for k in ("p50_ms", "p95_ms", "max_ms", "results_on_first_page")})


if __name__ == "__main__":
    main()
