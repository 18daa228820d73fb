"""Load test of the annotator's side on the real stack, on loopback.

gunicorn (config/gunicorn.conf.py: 4 threaded workers, DEBUG=0) serves the app on a free port, one
Celery worker retrains and plans, PostgreSQL (a scratch database, `load_bench`, dropped and recreated) and Redis (DB 7, flushed)
back them. 50 annotators, one thread each with its own token, lease a batch (5 items), think
2-6 s per item, submit, renew their leases every 10 s as the page does, and now and then:

* send the same answer twice at once (two connections, same client_id): both must get the stored
  answer (201 + 200), never 409;
* resend an answer already acknowledged (a retry): 200, nothing stored twice;
* retry a submit that failed on the network or with a 5xx (same client_id);
* undo their answer by client_id.

Leases last 5 s, so thinking past them is common: late answers are stored when the slot is still
free and refused with 409 otherwise. A lead closes the open wave every 60 s with retrain=true
(live leases stay answerable until they expire); completed waves close by themselves; the worker
plans and opens the next wave.

Afterwards the database is checked: answers acknowledged but missing (lost), two live answers of
one annotator on one item (duplicated), items with more live answers than their overlap
(double-assigned), slot counts that disagree with the assignments, and 5xx answers seen.

Usage: python bench/load.py [--duration 180] [--annotators 50]
Writes bench/results/load.json. The items are synthetic, with pre-computed vectors (the encoder
never runs); the work measured is leasing, answering and the loop around them.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from scratch_db import recreate_database  # bench/ is sys.path[0] when run as a script

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DB_URL = "postgres://postgres@127.0.0.1:5432/load_bench"
REDIS_URL = "redis://127.0.0.1:6379/7"
LABELS = ["billing", "login", "shipping", "refund", "fraud", "outage", "privacy", "legal"]
SHARES = [0.3, 0.22, 0.18, 0.12, 0.08, 0.05, 0.03, 0.02]
SOURCES = ["email", "chat", "social"]
DIM = 384
# The annotation page renews an open batch every max(lease / 3, 10) s (static/js/annotate/main.js).
RENEW_EVERY_S = 10.0


WORDS = ["amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris", "juniper"]


def letters(i: int) -> str:
    """0 → a, 25 → z, 26 → ba …: unique words (the text hash ignores digits)."""
    out = ""
    while True:
        out = chr(ord("a") + i % 26) + out
        i //= 26
        if i == 0:
            return out


def server_env(lease_seconds: int) -> dict:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL, "DEBUG": "0", "SECRET_KEY": "load-bench-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "0", "LOG_LEVEL": "WARNING",
        "LONGTAIL_LEASE_SECONDS": str(lease_seconds), "HF_HUB_OFFLINE": "1", "DJANGO_SETTINGS_MODULE": "config.settings",
        "LONGTAIL_VAR_DIR": str(ROOT / "var" / "load_bench"), "DB_CONN_MAX_AGE": "60",
    })
    return env


# --- setup (runs in a child process with the server's environment) ---------------------------------
def setup(out: Path, n_items: int, n_annotators: int, wave_size: int) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from labeling.annotations.models import Annotation
    from labeling.items.models import Item
    from labeling.modeling.models import Embedding
    from labeling.projects.models import Label, Membership, Project, Source
    from labeling.waves.services import open_wave, plan_next_wave
    from learner.planning import label_texts
    from learner.text import text_hash

    rng = np.random.default_rng(0)
    project = Project.objects.create(slug="load", name="Load", wave_size=wave_size, batch_size=5, overlap=2,
                                     double_label_share=0.1)
    labels = [Label.objects.create(project=project, name=name, hotkey=str(i + 1), description=f"About {name}")
              for i, name in enumerate(LABELS)]
    sources = [Source.objects.create(project=project, name=name, quota=1 / len(SOURCES)) for name in SOURCES]

    def unit(n):
        v = rng.normal(size=(n, DIM)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    centroids = unit(len(LABELS))
    truth = rng.choice(len(LABELS), size=n_items, p=SHARES)
    vectors = centroids[truth] + 0.9 * unit(n_items)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [f"{LABELS[t]} ticket {letters(i)} about {WORDS[i % len(WORDS)]}" for i, t in enumerate(truth)]
    Item.objects.bulk_create([Item(project=project, source=sources[i % len(sources)], text=t, text_hash=text_hash(t))
                              for i, t in enumerate(texts)], batch_size=2000)
    items = list(Item.objects.filter(project=project).order_by("id"))
    model_id = settings.LONGTAIL_MODEL_ID
    rows = [Embedding(model_id=model_id, text_hash=item.text_hash, vector=v.tobytes())
            for item, v in zip(items, vectors, strict=True)]
    label_vecs = unit(len(LABELS))
    for text, v in zip(label_texts(LABELS, {n: f"About {n}" for n in LABELS}), label_vecs, strict=True):
        rows.append(Embedding(model_id=model_id, text_hash=text_hash(text), vector=v.tobytes()))
    Embedding.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    # A few imported labels per class, so the first retrain has something to learn from.
    seed_items = [item for k in range(len(LABELS)) for item in
                  [items[i] for i in np.flatnonzero(truth == k)[:6]]]
    Annotation.objects.bulk_create([Annotation(project=project, item=item, label=labels[truth[items.index(item)]],
                                               origin=Annotation.IMPORT) for item in seed_items])
    open_wave(plan_next_wave(project))

    lead = User.objects.create_user("lead", password="load-bench-pw")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    tokens = {"lead": Token.objects.create(user=lead).key, "annotators": [],
              "labels": [label.pk for label in labels]}
    for i in range(n_annotators):
        user = User.objects.create_user(f"ann{i:02d}", password="load-bench-pw")
        Membership.objects.create(user=user, project=project, role=Membership.ANNOTATOR)
        tokens["annotators"].append(Token.objects.create(user=user).key)
    out.write_text(json.dumps(tokens))


# --- the load --------------------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency = defaultdict(list)   # endpoint -> seconds
        self.started = defaultdict(list)   # endpoint -> wall-clock start of each timed request
        self.status = defaultdict(Counter)  # endpoint -> status -> n
        self.acked = {}                     # client_id -> annotation id
        self.undone = set()
        self.dup_pairs = Counter()          # "201+200" etc.
        self.retry_status = Counter()
        self.errors = Counter()
        self.refusals = Counter()

    def add(self, endpoint, seconds, status, started=None):
        with self.lock:
            if seconds is not None:
                self.latency[endpoint].append(seconds)
                self.started[endpoint].append(started if started is not None else time.time() - seconds)
            self.status[endpoint][status] += 1


def timed(rec, session, endpoint, url, body, timeout=30):
    t = time.perf_counter()
    try:
        r = session.post(url, json=body, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - network trouble is counted, then retried
        rec.add(endpoint, None, "network")
        with rec.lock:
            rec.errors[type(exc).__name__] += 1
        return None
    rec.add(endpoint, time.perf_counter() - t, r.status_code)
    return r


def send_twice_at_once(rec, url, payload, sessions) -> list:
    """The same submit from two connections released together; records the pair's statuses."""
    out = {}
    barrier = threading.Barrier(2)

    def send(key, session):
        barrier.wait()
        out[key] = timed(rec, session, "submit", url, payload)

    threads = [threading.Thread(target=send, args=(k, sess)) for k, sess in zip("ab", sessions, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(str(out[k].status_code) if out[k] is not None else "network" for k in "ab")
    with rec.lock:
        rec.dup_pairs["+".join(codes)] += 1
    return [out[k] for k in "ab" if out[k] is not None]


def annotator(rec, base, token, labels, stop, rnd, think):
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Token {token}"
    twin = requests.Session()
    twin.headers["Authorization"] = f"Token {token}"

    def submit(payload):
        for _ in range(6):
            r = timed(rec, s, "submit", f"{base}/annotations/", payload)
            if r is not None and r.status_code < 500:
                return r
            time.sleep(0.5)
        return r

    while not stop.is_set():
        r = timed(rec, s, "next_batch", f"{base}/batches/", {})
        if r is None or r.status_code != 200:
            time.sleep(1)
            continue
        items = r.json()["items"]
        last_renew = time.monotonic()
        if not items:
            stop.wait(rnd.uniform(1, 3))
            continue
        for item in items:
            if stop.wait(rnd.uniform(*think)):
                break
            payload = {"client_id": str(uuid.uuid4()), "assignment": item["assignment"], "label": rnd.choice(labels)}
            if rnd.random() < 0.08:  # the same answer twice at once
                responses = send_twice_at_once(rec, f"{base}/annotations/", payload, (s, twin))
            else:
                responses = [submit(payload)]
            stored = [x for x in responses if x is not None and x.status_code in (200, 201)]
            if stored:
                with rec.lock:
                    rec.acked[payload["client_id"]] = stored[0].json()["annotation"]["id"]
            else:
                refused = next((x for x in responses if x is not None and x.status_code == 409), None)
                if refused is not None:
                    with rec.lock:
                        rec.refusals[refused.json().get("detail", "")[:60]] += 1
            if stored and rnd.random() < 0.05:  # a retry of an acknowledged answer
                again = timed(rec, s, "submit", f"{base}/annotations/", payload)
                with rec.lock:
                    rec.retry_status[again.status_code if again is not None else "network"] += 1
            if stored and rnd.random() < 0.03:  # undo it (by client_id)
                u = timed(rec, s, "undo", f"{base}/annotations/undo/", {"client_id": payload["client_id"]})
                if u is not None and u.status_code == 200:
                    with rec.lock:
                        rec.undone.add(payload["client_id"])
            if time.monotonic() - last_renew >= RENEW_EVERY_S:
                timed(rec, s, "renew", f"{base}/batches/renew/", {})
                last_renew = time.monotonic()


def lead_closer(rec, base, token, stop, every):
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Token {token}"
    closes = []
    while not stop.wait(every):
        current = s.get(f"{base}/waves/current/", timeout=30)
        if current.status_code != 200 or current.json().get("state") != "open":
            continue
        number = current.json()["number"]
        r = timed(rec, s, "close", f"{base}/waves/{number}/close/", {"retrain": True}, timeout=60)
        if r is not None:
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            closes.append({"wave": number, "status": r.status_code, "live_leases": body.get("live_leases")})
    return closes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, timeout=90) -> None:
    import requests

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=2).status_code in (200, 401, 403):
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {timeout} s")


ENDPOINTS = {"/batches/": "next_batch", "/batches/renew/": "renew", "/annotations/": "submit",
             "/annotations/undo/": "undo"}


def server_times(path: Path) -> dict:
    """Seconds each request spent in a gunicorn worker, by endpoint, from the access log."""
    out = defaultdict(list)
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[0] != "POST":
            continue
        tail = parts[1].split("/api/projects/load", 1)[-1]
        endpoint = ENDPOINTS.get(tail) or ("close" if tail.endswith("/close/") else None)
        if endpoint:
            out[endpoint].append(int(parts[3]) / 1000.0)
    return out


def worker_intervals() -> list[tuple[float, float]]:
    """Wall-clock spans (epoch seconds) during which the worker ran a task of the loop."""
    import psycopg2

    conn = psycopg2.connect(DB_URL)
    cur = conn.cursor()
    cur.execute("SELECT extract(epoch FROM created_at), extract(epoch FROM coalesce(finished_at, now())) "
                "FROM learner_taskrun")
    spans = [(float(a), float(b)) for a, b in cur.fetchall()]
    conn.close()
    return spans


def split_by_worker(rec, spans) -> dict:
    """Latency of requests that started while the worker ran a task vs. the others: how much of
    the tail the retrains on the same cores cause."""
    out = {}
    for endpoint in ("next_batch", "submit"):
        during, other = [], []
        for started, seconds in zip(rec.started[endpoint], rec.latency[endpoint], strict=True):
            (during if any(a <= started <= b for a, b in spans) else other).append(seconds)
        out[endpoint] = {
            "while_worker_ran": {"n": len(during), "p50": pct(during, 50), "p95": pct(during, 95)},
            "otherwise": {"n": len(other), "p50": pct(other, 50), "p95": pct(other, 95)},
        }
    return out


def pct(values, q):
    return round(float(np.percentile(np.asarray(values) * 1000.0, q)), 1) if values else None


def check_database(rec) -> dict:
    import psycopg2

    conn = psycopg2.connect(DB_URL)
    cur = conn.cursor()
    cur.execute("SELECT client_id::text, id, undone FROM annotations_annotation WHERE origin = 'annotator'")
    stored = {cid: (pk, undone) for cid, pk, undone in cur.fetchall()}
    lost = [cid for cid in rec.acked if cid not in stored or (stored[cid][1] and cid not in rec.undone)]
    cur.execute("""SELECT count(*) FROM (SELECT item_id, annotator_id FROM annotations_annotation
                   WHERE origin = 'annotator' AND NOT undone GROUP BY 1, 2 HAVING count(*) > 1) d""")
    duplicated = cur.fetchone()[0]
    cur.execute("""SELECT count(*), coalesce(sum(n - allowed), 0) FROM (
                     SELECT a.item_id, count(*) AS n,
                            (SELECT max(overlap) FROM waves_waveitem w WHERE w.item_id = a.item_id) AS allowed
                     FROM annotations_annotation a WHERE a.origin = 'annotator' AND NOT a.undone GROUP BY a.item_id
                   ) x WHERE n > allowed""")
    double_items, double_excess = cur.fetchone()
    cur.execute("""SELECT count(*) FROM waves_waveitem w WHERE w.slots_taken <> (
                     SELECT count(*) FROM annotations_assignment s WHERE s.wave_item_id = w.id
                     AND s.state IN ('leased', 'done', 'skipped'))
                   OR w.slots_done <> (SELECT count(*) FROM annotations_assignment s WHERE s.wave_item_id = w.id
                     AND s.state IN ('done', 'skipped'))""")
    counter_mismatch = cur.fetchone()[0]
    cur.execute("SELECT count(*), count(*) FILTER (WHERE state = 'closed') FROM waves_wave")
    waves, closed = cur.fetchone()
    cur.execute("SELECT count(*) FILTER (WHERE NOT undone) FROM annotations_annotation WHERE origin = 'annotator'")
    live_answers = cur.fetchone()[0]
    cur.execute("SELECT state, count(*) FROM learner_taskrun GROUP BY 1")
    runs = dict(cur.fetchall())
    plans = {}
    cur.execute("SELECT max(id) FROM waves_wave")
    wave_id = cur.fetchone()[0] or 0
    for name, sql in {
        # The lease's walk over free slots and its look for stale leases, as leasing runs them.
        "free_slots": "SELECT id FROM waves_waveitem WHERE wave_id = %s AND slots_taken < overlap "
                      "ORDER BY batch_number, position, id LIMIT 5 FOR UPDATE SKIP LOCKED",
        "stale_leases": "SELECT wave_item_id FROM annotations_assignment WHERE state = 'leased' AND expires_at <= now() "
                        "AND %s IS NOT NULL LIMIT 500",
    }.items():
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, [wave_id])
        plan = cur.fetchone()[0][0]
        nodes, stack = [], [plan["Plan"]]
        while stack:
            node = stack.pop()
            nodes.append(node["Node Type"] + (f" on {node['Index Name']}" if "Index Name" in node else ""))
            stack.extend(node.get("Plans", []))
        plans[name] = {"nodes": nodes, "execution_ms": round(plan["Execution Time"], 3)}
    conn.rollback()
    conn.close()
    return {"lost": len(lost), "duplicated": duplicated, "double_assigned_items": double_items,
            "double_assigned_excess_answers": int(double_excess), "slot_count_mismatches": counter_mismatch,
            "waves": waves, "waves_closed": closed, "live_answers_stored": live_answers, "task_runs": runs,
            "query_plans_after_run": plans}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--items", type=int, default=6000)
    parser.add_argument("--wave-size", type=int, default=400)
    parser.add_argument("--lease-seconds", type=int, default=5)
    parser.add_argument("--close-every", type=float, default=60.0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.json"))
    parser.add_argument("--sync-workers", action="store_true",
                        help="gunicorn sync workers without the product's config (the comparison run)")
    parser.add_argument("--setup", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        setup(Path(args.setup), args.items, args.annotators, args.wave_size)
        return

    env = server_env(args.lease_seconds)
    load_before = os.getloadavg()
    recreate_database(DB_URL)
    subprocess.run(["redis-cli", "-n", "7", "flushdb"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    tokens_path = ROOT / "var" / "load_bench" / "tokens.json"
    tokens_path.parent.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--setup", str(tokens_path), "--items", str(args.items),
                    "--annotators", str(args.annotators), "--wave-size", str(args.wave_size)],
                   cwd=ROOT, env=env, check=True)
    setup_s = time.perf_counter() - t
    tokens = json.loads(tokens_path.read_text())

    port = free_port()
    logs = ROOT / "var" / "load_bench"
    worker = subprocess.Popen([str(BIN / "celery"), "-A", "config", "worker", "-Q", "default,embed,train",
                               "-c", "1", "-l", "warning"], cwd=ROOT, env=env,
                              stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT)
    access_log = logs / "access.log"
    access_log.unlink(missing_ok=True)
    # the product's gunicorn settings (threaded workers, warm-up), 4 workers as before; --sync-workers
    # runs gunicorn's sync workers instead, the way this benchmark ran before the product switched
    config = ["-k", "sync"] if args.sync_workers else ["-c", "config/gunicorn.conf.py"]
    web = subprocess.Popen([str(BIN / "gunicorn"), *config, "config.wsgi", "-w", "4",
                            "-b", f"127.0.0.1:{port}",
                            "--timeout", "120", "--access-logfile", str(access_log),
                            # path, status, time in the worker (ms): service time without the queue
                            "--access-logformat", "%(m)s %(U)s %(s)s %(M)s"], cwd=ROOT, env=env,
                           stdout=open(logs / "gunicorn.log", "w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api/projects/load"
    rec = Recorder()
    try:
        wait_ready(f"http://127.0.0.1:{port}/api/projects/")
        stop = threading.Event()
        closes: list = []
        threads = [threading.Thread(target=annotator, daemon=True,
                                    args=(rec, base, tok, tokens["labels"], stop, random.Random(i), (2.0, 6.0)))
                   for i, tok in enumerate(tokens["annotators"])]
        closer = threading.Thread(target=lambda: closes.extend(
            lead_closer(rec, base, tokens["lead"], stop, args.close_every)), daemon=True)
        started = time.perf_counter()
        for th in threads:
            th.start()
            time.sleep(0.05)  # people do not all press Start in the same millisecond
        closer.start()
        time.sleep(max(0.0, args.duration - (time.perf_counter() - started)))
        stop.set()
        for th in threads:
            th.join(timeout=60)
        closer.join(timeout=90)
        ran_s = time.perf_counter() - started
    finally:
        for proc in (web, worker):
            proc.send_signal(signal.SIGTERM)
        for proc in (web, worker):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    load_after = os.getloadavg()
    spans = worker_intervals()
    server = server_times(access_log)
    db = check_database(rec)
    five_xx = sum(n for counts in rec.status.values() for code, n in counts.items()
                  if isinstance(code, int) and code >= 500)
    result = {
        "what": "50 annotators on the real stack on loopback: lease, think 2-6 s, submit, renew every 10 s; concurrent "
                "duplicate submits, retries, undo by client_id; 5 s leases; a lead closes the open wave "
                f"every {args.close_every:.0f} s with retrain; one Celery worker retrains and plans.",
        "stack": {"web": ("gunicorn -k sync config.wsgi, 4 sync workers, DEBUG=0" if args.sync_workers else
                "gunicorn -c config/gunicorn.conf.py config.wsgi, 4 workers x GUNICORN_THREADS threads (gthread), "
                "DEBUG=0"), "database": "PostgreSQL (load_bench)",
                  "broker": "Redis DB 7", "worker": "celery -c 1, queues default, embed, train, at the default LONGTAIL_WORKER_NICE"},
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "note": "the 50 client threads, gunicorn, the worker and PostgreSQL share these cores; the "
                            "load averages before and after the run say what else ran",
                    "load_average_1_5_15_before": [round(x, 1) for x in load_before],
                    "load_average_1_5_15_after": [round(x, 1) for x in load_after]},
        "settings": {"annotators": args.annotators, "duration_s": round(ran_s, 1), "lease_seconds": args.lease_seconds,
                     "think_s": [2, 6], "batch_size": 5, "wave_size": args.wave_size, "items": args.items,
                     "overlap": "2 on 10% of each wave", "setup_s": round(setup_s, 1)},
        "latency_ms": {ep: {"n": len(v), "p50": pct(v, 50), "p95": pct(v, 95), "p99": pct(v, 99),
                            "max": pct(v, 100)} for ep, v in sorted(rec.latency.items())},
        "server_ms": {ep: {"n": len(v), "p50": pct(v, 50), "p95": pct(v, 95), "p99": pct(v, 99)}
                      for ep, v in sorted(server.items())},
        "latency_ms_by_worker_activity": split_by_worker(rec, spans),
        "worker_busy_s": round(sum(b - a for a, b in spans), 1),
        "server_ms_note": "time inside a gunicorn worker (its access log), without the wait for a free worker; "
                          "latency_ms is what the client saw, queue included",
        "status_counts": {ep: {str(k): n for k, n in sorted(c.items(), key=str)} for ep, c in sorted(rec.status.items())},
        "counts": {"double_assigned_beyond_overlap": db["double_assigned_items"], "lost": db["lost"],
                   "duplicated": db["duplicated"], "server_errors_5xx": five_xx},
        "detail": {**db, "acknowledged_answers": len(rec.acked), "undone_by_clients": len(rec.undone),
                   "concurrent_duplicate_pairs": dict(rec.dup_pairs), "retries_of_acknowledged": dict(rec.retry_status),
                   "refusals_409": dict(rec.refusals.most_common(5)), "network_errors": dict(rec.errors),
                   "wave_closes_by_lead": closes},
        "refusals_note": "409 answers are late answers refused by design: a lease lasts 5 s, a batch of 5 items at "
                         "2-6 s each outlives it and the page renews only every 10 s, so another annotator may "
                         "take the slot; the refusal says so and nothing is stored. A concurrent duplicate pair "
                         "gets the same answer twice (201 + 200, or 409 + 409), never 201 + 409.",
        "target": {"counts": "0 / 0 / 0 / 0", "p95_ms": 30},
    }
    lat = result["latency_ms"]
    result["target"]["met"] = {
        "counts": all(v == 0 for v in result["counts"].values()),
        "next_batch_p95": bool(lat.get("next_batch")) and lat["next_batch"]["p95"] <= 30,
        "submit_p95": bool(lat.get("submit")) and lat["submit"]["p95"] <= 30,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"latency_ms": lat, "counts": result["counts"], "met": result["target"]["met"]}, indent=2))


if __name__ == "__main__":
    main()
