"""python manage.py setup_demo [--password PW] [--items N]

Creates the demo users (admin / lead / annotator, passwords printed) and the demo support-ticket
project, imported through the real importer. Idempotent: a user that already exists is left exactly
as it is (its password and superuser / staff flags are not touched: on a real instance it may be a
real person, and the demo passwords are published), and so is an existing project. Then the pool is
embedded and the cold-start wave planned and opened (labeling.loop.pipeline.plan_first_wave), unless
the project already has a wave — so a run interrupted while embedding finishes the job the next time.
The output also says who gives the second answers of the open wave's double-labeled items: the
annotator alone cannot complete the wave."""
import time

from django.core.management.base import BaseCommand, CommandError

from labeling.items.demo_data import (
    DEMO_SLUG,
    DEMO_USERS,
    MAX_DEMO_ITEMS,
    MIN_DEMO_ITEMS,
    create_demo_project,
    ensure_users,
    item_count_problem,
    slug_problem,
)
from labeling.loop.pipeline import plan_first_wave


class Command(BaseCommand):
    help = "Create the demo users and the demo support-ticket project (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="one password for the demo users this run creates (default: the "
                                                "documented ones); users that already exist keep theirs")
        parser.add_argument("--items", type=int, default=6000,
                            help=f"tickets to generate, {MIN_DEMO_ITEMS:,} to {MAX_DEMO_ITEMS:,} (default 6000)")
        parser.add_argument("--slug", default=DEMO_SLUG,
                            help="the demo project's slug: letters, digits, _ and - (default %(default)s)")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **opts):
        started = time.monotonic()
        problem = item_count_problem(opts["items"])
        if problem:  # before anything is written: an empty import would leave an empty project behind
            raise CommandError(f"--items {problem}")
        if problem := slug_problem(opts["slug"]):  # before the users too: nothing is written
            raise CommandError(f"--slug {opts['slug']!r}: {problem}")
        users = ensure_users(opts["password"])
        project, created = create_demo_project(slug=opts["slug"], n_items=opts["items"], seed=opts["seed"], users=users)
        if created:
            self.stdout.write(f"Created project '{project.slug}' with {project.items.count():,} items, "
                              f"{project.labels.count()} labels, {project.sources.count()} sources.")
        else:
            self.stdout.write(f"Project '{project.slug}' already exists ({project.items.count():,} items); left as it is.")
        if not project.waves.exists():
            self.stdout.write("Embedding the pool and planning the first wave (a minute or two on a laptop CPU)…")
            self.stdout.flush()
            wave = plan_first_wave(project)
            self.stdout.write(f"Wave {wave.number} is open with {wave.size} items.")
        self.stdout.write(users_report(users))
        note = double_labeled_note(project)
        if note:
            self.stdout.write(note)
        self.stdout.write(f"Done in {time.monotonic() - started:.1f} s. Sign in at http://127.0.0.1:8000/accounts/login/")


def users_report(users) -> str:
    """One line per demo user: created (with the password to sign in with and its role), or left as
    it was. An existing user's password is not printed: this run did not set it and cannot know it."""
    lines = ["Demo users:"]
    for username, demo_user in users.items():
        role = DEMO_USERS[username][1]
        if demo_user.created:
            lines.append(f"  {username:10} created: password {demo_user.password}, role {role}"
                         + (" (superuser)" if role == "admin" else ""))
        else:
            lines.append(f"  {username:10} already exists: left as it is (its password was not changed)")
    if not all(demo_user.created for demo_user in users.values()):
        lines.append("Existing users keep the passwords they had (one an earlier setup_demo created has the "
                     "README's, or the --password of that run); to set a new one: "
                     "python manage.py changepassword <user>")
    return "\n".join(lines)


def double_labeled_note(project) -> str:
    """Who completes the open wave's double-labeled items, or "" when it has none. Each needs
    answers from ``overlap`` different people, so the demo annotator alone leaves them waiting and
    the wave never completes (no retrain, no next wave): the printed users must be enough to run
    the loop, and the demo lead, a member of the project, answers too."""
    wave = project.waves.order_by("-number").first()
    if wave is None or wave.state != wave.OPEN:
        return ""
    double = wave.picks.filter(overlap__gt=1)
    n_double = double.count()
    if not n_double:
        return ""
    need = max(double.values_list("overlap", flat=True))
    members = [m.user.username for m in project.memberships.select_related("user").order_by("role", "user__username")]
    head = (f"Wave {wave.number}: {n_double} of its {wave.size} items are double-labeled and need answers from "
            f"{need} different people.")
    if len(members) < need:
        return (f"{head} The project has {len(members)} member(s) ({', '.join(members)}): add annotators on the "
                "Members page, or the wave cannot complete.")
    first, others = members[0], members[1:need]
    return (f"{head} When {first} runs out of items, sign in as {' and '.join(others)} (a lead answers too) to "
            "give the other answers: that completes the wave and starts the retrain.")
