"""What the lead's labels page (/p/<slug>/settings/labels/) costs per load, and whether it saves, at a
few label counts: wall time and size of a GET, the number of <option> elements it holds, the status
and time of a save that changes one description (the page's own form, as a browser posts it), and the
time of a post claiming labels-TOTAL_FORMS=1000000.

Runs in-process through Django's test client (DEBUG off, logged in as the project's lead) against the
database of DATABASE_URL (a scratch one: the script migrates it and adds projects "bench-labels-<n>").

    DATABASE_URL=postgres://.../scratch .venv/bin/python bench/labels_page.py --as after [--sizes 33,300] [--loads 3]

Writes bench/results/labels_page.json, keeping the runs stored there under other keys (``--as``).
"""
import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "results" / "labels_page.json"
INPUT = re.compile(r'<(input|textarea|select)\b[^>]*\bname="([^"]+)"[^>]*>(?:([^<]*)</textarea>)?', re.S)
VALUE = re.compile(r'\bvalue="([^"]*)"')


def posted_form(html: str) -> dict:
    """The labels form as a browser posts it: every named field with its value (ticked boxes only)."""
    data = {}
    for match in INPUT.finditer(html):
        tag, name, text = match.group(1), match.group(2), match.group(3)
        element = match.group(0)
        if tag == "textarea":
            data[name] = unescape(text or "").removeprefix("\n")
        elif tag == "select":
            data[name] = ""  # replaced below by the selected option, if any
        elif 'type="checkbox"' in element:
            if " checked" in element:
                data[name] = "on"
        else:
            value = VALUE.search(element)
            data[name] = unescape(value.group(1)) if value else ""
    for name, value in re.findall(r'<select name="([^"]+)"[^>]*>.*?<option value="([^"]*)" selected', html, re.S):
        data[name] = value
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as", dest="key", required=True, help="key of this run in the results file")
    parser.add_argument("--sizes", default="33,300")
    parser.add_argument("--loads", type=int, default=3)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from labeling.projects.models import Label, Membership, Project

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    setup_test_environment()
    call_command("migrate", verbosity=0)
    lead, _ = get_user_model().objects.get_or_create(username="bench-labels-lead")
    client = Client()
    client.force_login(lead)
    runs = {}
    for size in (int(s) for s in args.sizes.split(",")):
        slug = f"bench-labels-{size}"
        Project.objects.filter(slug=slug).delete()
        project = Project.objects.create(slug=slug, name=slug)
        Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
        Label.objects.bulk_create(Label(project=project, name=f"label {i:04d}", order=i) for i in range(size))
        url = f"/p/{slug}/settings/labels/"
        client.get(url)  # warm-up
        seconds, page = [], None
        for _ in range(args.loads):
            started = time.perf_counter()
            page = client.get(url)
            seconds.append(time.perf_counter() - started)
        html = page.content.decode()
        data = posted_form(html)
        first_description = next(name for name in data if name.endswith("-description"))
        data[first_description] = "changed by the bench"
        started = time.perf_counter()
        saved = client.post(url, data)
        save_seconds = time.perf_counter() - started
        flood = {k: v for k, v in data.items() if k.startswith("labels-") and "-" not in k[len("labels-"):]}
        flood.update({"csrfmiddlewaretoken": data.get("csrfmiddlewaretoken", ""), "labels-TOTAL_FORMS": "1000000",
                      "labels-INITIAL_FORMS": "0"})
        started = time.perf_counter()
        flooded = client.post(url, flood)
        flood_seconds = time.perf_counter() - started
        runs[str(size)] = {
            "labels": size, "get_seconds_median": round(statistics.median(seconds), 3),
            "get_seconds": [round(s, 3) for s in seconds], "get_bytes": len(page.content),
            "option_elements": html.count("<option"), "fields_posted": len(data),
            "save_status": saved.status_code, "save_seconds": round(save_seconds, 3),
            "saved": Label.objects.filter(project=project, description="changed by the bench").exists(),
            "total_forms_1000000_status": flooded.status_code, "total_forms_1000000_seconds": round(flood_seconds, 3)}
        print(json.dumps(runs[str(size)]))
        project.delete()
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results[args.key] = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                         "python": platform.python_version(), "runs": runs}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
