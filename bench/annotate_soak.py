"""Annotation page soak: Chromium types answers at 8–10 items/s against a real server, with random
undos (Backspace, then change, keep or clear), reopen-and-change of older answers (Backspace several
times, or a click on a History row) and mouse clicks on label buttons mixed in; afterwards every
stored answer that counts is compared with the answer the script meant: mismatches must be 0.

Measures, in the page: keypress → next item on screen (the key event's timestamp to the frame
after the next item is drawn), and save time (answer queued → server acknowledged, so queue waits
count) plus the bare request time of each POST.

Writes bench/results/annotate_soak.json.

    nice .venv/bin/python bench/annotate_soak.py [--answers 500] [--rate 9]
        [--db postgres://postgres@127.0.0.1:5432/wt_ann_soak] [--seed 0]

It recreates the scratch database, migrates it, creates an annotator and a project with a wave
big enough that the soak never completes it (so no retrain runs during the measurement), and
serves the app with `manage.py runserver` (threaded, DEBUG on for static files).
"""
import argparse
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from scratch_db import drop_database, recreate_database  # bench/ is sys.path[0] when run as a script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULT = ROOT / "bench" / "results" / "annotate_soak.json"
PASSWORD = "soak-Longtail-123"
LABELS = ["billing", "refund", "login", "fraud", "delivery", "card", "account", "app"]
CHROMIUM = "/usr/bin/chromium"
SERVER_LOG = Path("/tmp/annotate_soak_server.log")

# Ticket-like texts: mostly short, some long enough to scroll.
WORDS = ("card charged twice refund order login password reset account locked delivery late parcel app "
         "crash fraud stolen invoice download fee transfer bank support please help today again").split()


def make_text(rng: random.Random, i: int) -> str:
    n = rng.choice([8, 15, 25, 40, 60, 300]) if i % 17 else 2500
    return f"Ticket {i}: " + " ".join(rng.choice(WORDS) for _ in range(n)) + "."


def setup(db_url: str, n_items: int, seed: int):
    os.environ["DATABASE_URL"] = db_url
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    recreate_database(db_url)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from labeling.items.models import Item
    from labeling.projects.models import Label, Membership, Project, Source
    from labeling.waves.models import Wave, WaveItem
    from learner.text import text_hash

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("soak", "soak@example.org", PASSWORD)
    project = Project.objects.create(slug="soak", name="Soak", batch_size=20, wave_size=n_items,
                                     double_label_share=0.0)
    source = Source.objects.create(project=project, name="email", quota=1.0)
    for i, name in enumerate(LABELS):
        Label.objects.create(project=project, name=name, hotkey=str(i + 1), order=i)
    Label.objects.create(project=project, name="Other", hotkey="0", is_other=True, order=99)
    Membership.objects.create(user=user, project=project, role=Membership.ANNOTATOR)
    rng = random.Random(seed)
    texts = [make_text(rng, i) for i in range(n_items)]
    items = Item.objects.bulk_create(
        Item(project=project, source=source, text=t, text_hash=text_hash(t)) for t in texts)
    wave = Wave.objects.create(project=project, number=1, state=Wave.OPEN, size=n_items)
    WaveItem.objects.bulk_create(
        WaveItem(wave=wave, item=item, strategy="random", reason="soak", inclusion_prob=0.5, overlap=1,
                 batch_number=i // 20, position=i % 20) for i, item in enumerate(items))
    labels = {label.name: (label.pk, label.hotkey) for label in Label.objects.filter(project=project)}
    return labels


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(db_url: str, port: int) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=db_url, DEBUG="1", HF_HUB_OFFLINE="1")
    env.pop("REDIS_URL", None)
    log = open(SERVER_LOG, "w")  # noqa: SIM115 - the server writes to it until it is stopped
    proc = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start: " + SERVER_LOG.read_text()[-2000:])


# Installed in the page: keypress → next item latency from the key event's own timestamp to the
# frame after the page drew another item (the page handles keys synchronously, on window, capture).
PROBE = """() => {
  window.__soak = { lat: [] };
  let last = document.getElementById('item-text').dataset.item;
  window.addEventListener('keydown', (e) => {
    const ts = e.timeStamp;
    requestAnimationFrame(() => setTimeout(() => {
      const now = document.getElementById('item-text').dataset.item;
      if (now !== last) { window.__soak.lat.push(performance.now() - ts); last = now; }
    }, 0));
  }, true);
}"""


SNAPSHOT = """() => ({
  item: Number(document.getElementById('item-text').dataset.item),
  done: !document.getElementById('done-panel').hidden,
  rows: document.querySelectorAll('#history-list .history-row').length,
  left: (([a, b]) => b - a)(document.getElementById('batch-count').textContent.split(' / ').map(Number)),
})"""


def pct(values, q):
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(q * (len(values) - 1))))], 1)


# Installed before the page's own scripts, so its capture listeners run before the page's: for
# every key and click it records what was on screen at that moment (the item, whether it was a
# reopened answer, whether the skip form was open). The intended answers are rebuilt from this log
# and the project's hotkeys, never from the page's own state.
WITNESS = """
window.__witness = [];
performance.setResourceTimingBufferSize(100000);  // keep every request's timing, not the first 250
const seen = (extra) => {
  const panel = document.getElementById('item-panel');
  const text = document.getElementById('item-text');
  const banner = document.getElementById('reopen-banner');
  const skip = document.getElementById('skip-form');
  window.__witness.push(Object.assign({
    item: panel && !panel.hidden ? Number(text.dataset.item) : null,
    reopened: Boolean(banner && !banner.hidden), skipForm: Boolean(skip && !skip.hidden),
  }, extra));
};
window.addEventListener('keydown', (e) => seen({kind: 'key', key: e.key}), true);
window.addEventListener('click', (e) => {
  const b = e.target.closest && e.target.closest('button');
  if (!b) return;
  seen({kind: 'click', label: b.dataset.label ? Number(b.dataset.label) : null, none: b.id === 'none-btn'});
}, true);
"""


def intended_from(witness: list[dict], labels: dict) -> dict[int, tuple]:
    """Replay what the person did on what they saw: item → the answer they meant."""
    by_key = {hotkey: name for name, (_, hotkey) in labels.items()}
    by_id = {pk: name for name, (pk, _) in labels.items()}
    intended: dict[int, tuple] = {}
    for ev in witness:
        item = ev["item"]
        if item is None:
            continue
        if ev["kind"] == "click":
            if ev["none"]:
                intended[item] = ("Other",)
            elif ev["label"] in by_id:
                intended[item] = (by_id[ev["label"]],)
            continue
        key = ev["key"]
        if ev["skipForm"]:
            if key in "1234" and len(key) == 1:
                intended[item] = ("skip",)
            continue
        if key == "Delete" and ev["reopened"]:
            intended.pop(item, None)
        elif key in by_key:
            intended[item] = (by_key[key],)
    return intended


def soak(base: str, labels: dict, n_answers: int, rate: float, seed: int) -> dict:
    from playwright.sync_api import expect, sync_playwright

    rng = random.Random(seed)
    names = [*LABELS, "Other"]
    counts = {"key": 0, "click": 0, "none_click": 0, "skip": 0, "undo_change": 0, "undo_keep": 0, "undo_clear": 0,
              "reopen_change": 0, "history_click_change": 0, "batches": 1}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 768}, base_url=base)
        page.set_default_timeout(30_000)
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/accounts/login/")
        page.fill("input[name=username]", "soak")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.add_init_script(WITNESS)
        page.goto("/p/soak/annotate/")
        page.keyboard.press("Enter")
        expect(page.locator("#item-panel")).to_be_visible()
        page.evaluate(PROBE)
        interval = 1.0 / rate
        started = time.perf_counter()
        answers = 0   # fresh answers given minus cleared ones
        next_at = started
        batch_wait = 0.0  # Enter at a batch's end until the next batch shows (saves drain first)

        def pace():
            nonlocal next_at
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

        def give(choice: str, how: str) -> None:
            if choice == "skip":
                page.keyboard.press(".")
                page.keyboard.press(str(rng.randint(1, 4)))
            elif how == "click" and choice != "Other":
                page.click(f"#label-buttons button[data-label='{labels[choice][0]}']")
            elif how == "click":
                page.click("#none-btn")
            else:
                page.keyboard.press(labels[choice][1])

        while answers < n_answers:
            now = page.evaluate(SNAPSHOT)  # one round trip: what the page shows
            if now["done"]:
                waited = time.perf_counter()
                page.keyboard.press("Enter")  # next batch; nothing is typed while it loads
                expect(page.locator("#item-panel")).to_be_visible()
                batch_wait += time.perf_counter() - waited
                next_at = time.perf_counter()
                counts["batches"] += 1
                continue
            roll = rng.random()
            history = now["rows"]
            if roll < 0.15 and history >= 1:  # undo: reopen the last answer, then change / keep / clear
                page.keyboard.press("Backspace")
                what = rng.random()
                if what < 0.6:
                    give(rng.choice(names), "key")
                    counts["undo_change"] += 1
                elif what < 0.8:
                    page.keyboard.press("Escape")
                    counts["undo_keep"] += 1
                else:
                    page.keyboard.press("Delete")
                    answers -= 1
                    counts["undo_clear"] += 1
                pace()
                continue
            if roll < 0.25 and history >= 4:  # reopen an older answer and change it
                for _ in range(rng.randint(2, min(4, history))):
                    page.keyboard.press("Backspace")
                give(rng.choice(names), "key")
                counts["reopen_change"] += 1
                pace()
                continue
            if roll < 0.33 and history >= 3:  # a click on a History row, then a key changes it
                page.locator("#history-list .history-row").nth(rng.randint(0, min(history, 10) - 1)).click()
                give(rng.choice(names), "key")
                counts["history_click_change"] += 1
                pace()
                continue
            # Plain answers come in bursts up to the end of the batch, without looking in between;
            # runs of hotkeys are typed by the browser driver itself, one every 1/rate seconds.
            typed = ""
            for _ in range(min(6, now["left"], n_answers - answers)):
                r = rng.random()
                choice = "skip" if r > 0.97 else rng.choice(names)
                how = "click" if 0.80 < r <= 0.92 else "key"
                answers += 1
                if choice != "skip" and how == "key":
                    counts["key"] += 1
                    typed += labels[choice][1]
                    next_at += interval
                    continue
                if typed:
                    page.keyboard.type(typed, delay=interval * 800)
                    typed = ""
                    next_at = max(next_at, time.perf_counter())
                counts["skip" if choice == "skip" else ("none_click" if choice == "Other" else "click")] += 1
                give(choice, how)
                pace()
            if typed:
                page.keyboard.type(typed, delay=interval * 800)  # the driver's own overhead makes up the rest
                next_at = max(next_at, time.perf_counter())
        typing_s = time.perf_counter() - started
        expect(page.locator("#save-status")).to_have_text("All answers saved", timeout=300_000)
        drained_s = time.perf_counter() - started
        probe = page.evaluate("window.__soak")
        witness = page.evaluate("window.__witness")
        saves = page.evaluate("window.longtailTimings")
        requests = page.evaluate("performance.getEntriesByType('resource')"
                                 ".filter((r) => /\\/annotations\\/(change\\/)?$/.test(new URL(r.name).pathname))"
                                 ".map((r) => r.duration)")
        browser.close()
    return {"intended": intended_from(witness, labels), "counts": counts, "typing_s": typing_s,
            "drained_s": drained_s, "latency_ms": probe["lat"], "save_ms": saves, "request_ms": requests,
            "page_errors": errors, "answers": answers, "events": len(witness), "batch_wait_s": batch_wait}


def compare(intended: dict) -> dict:
    from labeling.annotations.models import Annotation

    stored = {}
    for a in Annotation.objects.filter(project__slug="soak", undone=False).select_related("label"):
        if a.item_id in stored:
            stored[a.item_id] = ("DUPLICATE",)
        else:
            stored[a.item_id] = ("skip",) if a.skipped else (a.label.name,)
    missing = sorted(set(intended) - set(stored))
    extra = sorted(set(stored) - set(intended))
    wrong = sorted(i for i in set(intended) & set(stored) if intended[i] != stored[i])
    return {
        "intended_items": len(intended), "stored_items": len(stored), "mismatches": len(missing) + len(extra) + len(wrong),
        "missing": missing[:20], "extra": extra[:20],
        "wrong": [(i, intended[i], stored[i]) for i in wrong[:20]],
        "superseded_rows": Annotation.objects.filter(project__slug="soak", supersedes__isnull=False).count(),
        "rows_total": Annotation.objects.filter(project__slug="soak").count(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=500)
    parser.add_argument("--rate", type=float, default=10.0, help="items per second the script aims at")
    parser.add_argument("--db", default="postgres://postgres@127.0.0.1:5432/wt_ann_soak")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    labels = setup(args.db, n_items=args.answers * 2 + 100, seed=args.seed)
    port = free_port()
    server = serve(args.db, port)
    load_before = os.getloadavg()
    try:
        run = soak(f"http://127.0.0.1:{port}", labels, args.answers, args.rate, args.seed)
    finally:
        server.terminate()
        server.wait(timeout=30)
    load_after = os.getloadavg()
    check = compare(run["intended"])
    from django.db import connections

    connections.close_all()
    if not args.keep:
        drop_database(args.db)
    result = {
        "what": "Chromium types answers on the annotation page against manage.py runserver + PostgreSQL, "
                "with undos (change / keep / clear), reopen-and-change of older answers and mouse clicks mixed in; "
                "stored answers that count are compared with the intended ones",
        "answers_typed": run["answers"], "actions": run["counts"], "key_and_click_events": run["events"],
        "target_rate_items_per_s": args.rate,
        "achieved_rate_items_per_s": round(run["answers"] / run["typing_s"], 2),
        "rate_within_batches_items_per_s": round(run["answers"] / (run["typing_s"] - run["batch_wait_s"]), 2),
        "waiting_for_next_batch_s": round(run["batch_wait_s"], 1),
        "typing_s": round(run["typing_s"], 1), "all_saved_after_s": round(run["drained_s"], 1),
        "mismatches": check["mismatches"], "check": check,
        "keypress_to_next_item_ms": {"p50": pct(run["latency_ms"], 0.5), "p95": pct(run["latency_ms"], 0.95),
                                     "n": len(run["latency_ms"])},
        "save_ms_queued_to_acknowledged": {"p50": pct(run["save_ms"], 0.5), "p95": pct(run["save_ms"], 0.95),
                                           "n": len(run["save_ms"])},
        "save_request_ms": {"p50": pct(run["request_ms"], 0.5), "p95": pct(run["request_ms"], 0.95),
                            "n": len(run["request_ms"])},
        "page_errors": run["page_errors"],
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in load_after],
                    "note": "shared 2-core development machine, loaded by other jobs while measuring; "
                            "server, database and browser on the same machine"},
        "seed": args.seed, "mean_save_request_ms": round(statistics.fmean(run["request_ms"]), 1)
        if run["request_ms"] else None,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("answers_typed", "achieved_rate_items_per_s",
                                             "rate_within_batches_items_per_s", "mismatches",
                                             "keypress_to_next_item_ms", "save_ms_queued_to_acknowledged",
                                             "save_request_ms")}, indent=2))
    return 0 if check["mismatches"] == 0 and not run["page_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
