"""What the review queue page (/p/<slug>/review/) costs per load with many labels and a full page of
open tasks: size, wall time and the number of <option> elements, with the label list rendered once
per page (a <template> the page's script copies into the card the lead opens; the default) and, for
comparison, in every card (as before: review_views.INLINE_OPTIONS raised past the page's options).

Runs in-process through Django's test client (DEBUG off, logged in as the project's lead) against the
database of DATABASE_URL (a scratch one: the script migrates it and adds projects "bench-review-<n>").

    DATABASE_URL=postgres://.../scratch .venv/bin/python bench/review_page.py [--sizes 30,300] [--tasks 200] [--loads 3]

Writes bench/results/review_page.json.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "results" / "review_page.json"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="30,300", help="label counts")
    parser.add_argument("--tasks", type=int, default=200, help="open review tasks (the page shows up to 200)")
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

    from labeling.annotations import review_views
    from labeling.annotations.models import ReviewTask
    from labeling.items.models import Item
    from labeling.projects.models import Label, Membership, Project
    from learner.text import text_hash

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    setup_test_environment()
    call_command("migrate", verbosity=0)
    lead, _ = get_user_model().objects.get_or_create(username="bench-review-lead")
    client = Client()
    client.force_login(lead)
    one_list_limit = review_views.INLINE_OPTIONS
    runs = {}
    for size in (int(s) for s in args.sizes.split(",")):
        slug = f"bench-review-{size}"
        Project.objects.filter(slug=slug).delete()
        project = Project.objects.create(slug=slug, name=slug)
        Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
        Label.objects.bulk_create([Label(project=project, name=f"label {i:04d}", order=i) for i in range(size)])
        texts = [f"review bench ticket {size}-{i}" for i in range(args.tasks)]
        items = Item.objects.bulk_create([Item(project=project, text=t, text_hash=text_hash(t)) for t in texts])
        ReviewTask.objects.bulk_create([ReviewTask(project=project, item=item, reason=ReviewTask.LEAD_REQUEST, detail={})
                                        for item in items])
        for mode, limit in (("per_card", 10**12), ("once_per_page", one_list_limit)):
            review_views.INLINE_OPTIONS = limit
            times, body = [], b""
            for _ in range(args.loads):
                start = time.perf_counter()
                response = client.get(f"/p/{slug}/review/")
                times.append(time.perf_counter() - start)
                assert response.status_code == 200, response.status_code
                body = response.content
            runs[f"{size}_labels_{mode}"] = {
                "labels": size, "tasks_on_page": min(args.tasks, review_views.PAGE_LIMIT), "mode": mode,
                "bytes": len(body), "kb": round(len(body) / 1024, 1), "options": body.count(b"<option"),
                "median_s": round(statistics.median(times), 3),
            }
            print(json.dumps(runs[f"{size}_labels_{mode}"]))
        review_views.INLINE_OPTIONS = one_list_limit
        project.delete()
    OUT.write_text(json.dumps({"machine": platform.node(), "python": platform.python_version(),
                               "loadavg": os.getloadavg(), "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
