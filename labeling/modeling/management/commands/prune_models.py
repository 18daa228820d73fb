"""python manage.py prune_models [project-slug ...] [--keep N] [--dry-run]

Prunes the model versions nothing needs any more (labeling.modeling.retention): their pool scores,
heads, files and fine-tuned embeddings go, their rows and metrics stay. Every project when no slug
is given. Prints, per project, which versions stay and why, and what each pruned version frees
(with --dry-run: would free; nothing changes). Nothing prunes on its own: run it by hand or from
cron. Bad arguments exit with status 1 and change nothing.
"""
from django.core.management.base import BaseCommand, CommandError

from labeling.modeling.retention import DEFAULT_KEEP, ProjectRetention, VersionPrune, prune
from labeling.projects.models import Project


def keep_count(value) -> int:
    """--keep as a number of at least 1; CommandError (one line, exit status 1) otherwise. Read here,
    not by argparse, whose refusals print the usage and exit with status 2."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < 1:
        raise CommandError(f"--keep must be a whole number of at least 1 (how many of the newest trained versions "
                           f"to keep), not {str(value)[:40]!r}; nothing pruned.")
    return int(text)


def size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


class Command(BaseCommand):
    help = ("Prune old model versions: delete their pool scores, heads, files and fine-tuned embeddings, keeping "
            "their rows and metrics. Keeps the active version, the newest --keep, the newest final model and any "
            "version a running task holds (see docs/operations.md, \"Retention\").")

    def add_arguments(self, parser):
        parser.add_argument("projects", nargs="*", metavar="project-slug", help="projects to prune (default: all)")
        parser.add_argument("--keep", default=DEFAULT_KEEP, metavar="N",
                            help=f"how many of the newest trained versions to keep (default {DEFAULT_KEEP})")
        parser.add_argument("--dry-run", action="store_true", help="only print what would be pruned")

    def handle(self, *args, **opts):
        keep = keep_count(opts["keep"])
        slugs = list(dict.fromkeys(opts["projects"]))
        projects = list(Project.objects.filter(slug__in=slugs)) if slugs else None
        if slugs:
            unknown = sorted(set(slugs) - {p.slug for p in projects})
            if unknown:
                raise CommandError(f"No project with the slug {', '.join(map(repr, unknown))}; nothing pruned.")
            projects.sort(key=lambda p: slugs.index(p.slug))
        reports = prune(projects, keep=keep, dry_run=opts["dry_run"])
        errors = []
        for report in reports:
            self._project(report)
            errors += [error for version in report.versions for error in version.file_errors]
        if len(reports) > 1:
            self.stdout.write(self._totals("All projects", reports))
        if opts["dry_run"]:
            self.stdout.write("Dry run: nothing was changed.")
        if errors:
            raise CommandError("The versions are pruned, but these files could not be removed (remove them by "
                               "hand): " + "; ".join(errors))

    def _project(self, report: ProjectRetention) -> None:
        kept = ", ".join(f"v{n} ({'; '.join(why)})" for n, why in sorted(report.kept.items(), reverse=True))
        self.stdout.write(f"{report.slug}: keeps {kept or 'no version'}")
        verb = "would prune" if report.dry_run else "pruned"
        for version in report.versions:
            if version.skipped:
                self.stdout.write(f"  v{version.number} left: {version.skipped}")
                continue
            before = ", left over from an earlier run" if version.pruned_before else ""
            self.stdout.write(f"  {verb} v{version.number} ({version.state}{before}): {self._freed(version)}")
        self.stdout.write(self._totals(report.slug, [report]))

    @staticmethod
    def _freed(version: VersionPrune) -> str:
        files = ", ".join(str(p) for p in version.files) or "no files"
        return (f"{version.score_rows:,} score rows, {version.embedding_rows:,} fine-tuned embeddings, "
                f"{size(version.file_bytes)} on disk ({files})")

    @staticmethod
    def _totals(what: str, reports: list[ProjectRetention]) -> str:
        verb = "would free" if reports[0].dry_run else "freed"
        versions = sum(len(r.done) for r in reports)
        rows, embeddings, on_disk = (sum(r.total(k) for r in reports)
                                     for k in ("score_rows", "embedding_rows", "file_bytes"))
        return (f"{what}: {verb} {versions} version{'s' * (versions != 1)}, {rows:,} score rows, "
                f"{embeddings:,} fine-tuned embeddings, {size(on_disk)} on disk ({on_disk:,} bytes).")
