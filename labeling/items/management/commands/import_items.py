"""python manage.py import_items <project-slug> <file> [--skip-invalid [--rejects FILE]] [--format csv|tsv|jsonl]

Imports a CSV, TSV or JSONL file. Every bad row is reported (file, line, field, reason) and, without
--skip-invalid, nothing is imported and the command exits with status 1. With --skip-invalid the
valid rows are imported and the rejected ones are written with their reasons to the rejects file
(default: <file>.rejects.csv); the command then exits 0.

With a broker, the new items' embedding is queued for a Celery worker once the rows are in. The
exit status is about the import: 0 also when that embedding could not be queued (the broker is
down), which one line on stderr says, with what to do.
"""
import logging
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from labeling.export.management.commands._destination import destination_problem
from labeling.items.services import import_path
from labeling.loop import triggers
from labeling.loop.runs import EMBED
from labeling.modeling.models import TaskRun
from labeling.projects.models import Project

FORMATS_READ = ".csv, .tsv, .txt (read as CSV), .jsonl, .ndjson or .json (read as JSON lines)"


# Celery's result store logs each reconnection try to a Redis that is down, over several lines.
RESULT_STORE_LOGGERS = ("celery.backends.redis", "celery.backends.asynchronous")


@contextmanager
def one_line_queue_errors():
    """While the import runs, the queueing's logged errors keep their line but lose the traceback,
    and Celery's result store keeps its reconnection tries to itself (a broker that is down made
    them ~100 lines): the command says what happened, after the import, in one line. With
    LOG_LEVEL=DEBUG all of it stays."""
    def strip(record):
        record.exc_info, record.exc_text = None, None
        return True

    def hold(record):
        return False

    filters = [(logging.getLogger(triggers.__name__), strip)]
    filters += [(logging.getLogger(name), hold) for name in RESULT_STORE_LOGGERS]
    if logging.getLogger(triggers.__name__).isEnabledFor(logging.DEBUG):
        filters = []
    for logger, keep in filters:
        logger.addFilter(keep)
    try:
        yield
    finally:
        for logger, keep in filters:
            logger.removeFilter(keep)


class Command(BaseCommand):
    help = (f"Import items from a {FORMATS_READ} file into a project (see docs/intake.md). Exit status 0 once "
            "the rows are imported, also when their embedding could not be queued for a worker (said on stderr).")

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("file", help=f"a {FORMATS_READ} file")
        parser.add_argument("--format", choices=["csv", "tsv", "jsonl"], help="default: from the extension or content")
        parser.add_argument("--skip-invalid", action="store_true",
                            help="import the valid rows; write the rejected ones with reasons to --rejects")
        parser.add_argument("--rejects", help="where --skip-invalid writes rejected rows (default: FILE.rejects.csv)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    def handle(self, *args, **opts):
        try:
            project = Project.objects.get(slug=opts["project"])
        except Project.DoesNotExist:
            raise CommandError(f"No project with slug '{opts['project']}'.") from None
        path = Path(opts["file"])
        if path.is_dir():
            raise CommandError(f"{path}: is a folder, not a file.")
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        rejects = Path(opts["rejects"]) if opts["rejects"] else path.with_name(path.name + ".rejects.csv")
        # Before validating (minutes on a big file): a folder or a missing folder would fail only
        # once the rejected rows are written, after all that work. The check export's --out makes.
        if opts["rejects"] and not opts["skip_invalid"]:
            self.stderr.write(f"Warning: --rejects {rejects} is only written with --skip-invalid; without it a bad "
                              "row imports nothing and is reported here.")
        if opts["skip_invalid"] and (problem := destination_problem(rejects)):
            option = f"--rejects {rejects}" if opts["rejects"] else f"the rejects file {rejects} (set by --rejects)"
            raise CommandError(f"{option}: {problem}.")
        bar = None if opts["no_progress"] else tqdm(total=100, unit="%", desc="validate", file=self.stderr._out,
                                                    bar_format="{desc:9} {bar} {percentage:3.0f}% {postfix}")

        def progress(phase, fraction, counts):
            if phase == "wait":  # another import into the project runs first: say so, not a frozen 0 %
                self.stderr.write(f"{counts['waiting'][:1].upper()}{counts['waiting'][1:]}.")
                return
            if bar is not None:
                bar.set_description_str(phase)
                bar.n = round(100 * fraction)
                bar.set_postfix_str(", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items()), refresh=False)
                bar.refresh()

        try:
            with one_line_queue_errors():
                result = import_path(project, path, skip_invalid=opts["skip_invalid"], rejects_path=rejects,
                                     progress=progress, format=opts["format"])
        finally:
            if bar is not None:
                bar.close()
        batch = result.batch
        for error in result.errors:
            self.stderr.write(f"{error.format(batch.filename)}")
        if result.error_count > len(result.errors):
            self.stderr.write(f"… and {result.error_count - len(result.errors)} more errors")
        if not result.ok and result.rows_rejected and not opts["skip_invalid"]:
            raise CommandError(
                f"{batch.filename}: nothing imported ({result.error_count} error(s) in {result.rows_rejected} "
                f"of {result.rows_total} rows). Fix the file, or use --skip-invalid to import the valid rows."
            )
        if not result.ok:  # a file-level error, the project's labels or the batch changed meanwhile: said above
            raise CommandError(f"{batch.filename}: nothing imported.")
        self.stdout.write(self.style.SUCCESS(
            f"{batch.filename}: imported {result.rows_imported:,} of {result.rows_total:,} rows into '{project.slug}' "
            f"({result.exact_duplicates:,} exact and {result.near_duplicates:,} near duplicates grouped)."
        ))
        if result.note:  # labels brought to items the project held, copied labels left out: not in "imported"
            self.stdout.write(result.note)
        if result.rejects_path:
            self.stdout.write(f"{result.rows_rejected:,} rejected rows with reasons: {result.rejects_path}")
        if batch.created_sources:
            self.stdout.write(batch.created_sources_note)
        self.say_embedding(project, batch)

    def say_embedding(self, project, batch) -> None:
        """What became of the new items' embedding (queued once the import committed): one line where
        it could not be queued, or where it waits for a worker."""
        run = TaskRun.objects.filter(project=project, kind=EMBED, detail__import_batch=batch.pk).order_by("-pk").first()
        if run is None:  # no broker (the demo): planning embeds the items in-process
            return
        if triggers.queue_failed(run):
            self.stderr.write(f"Warning: the items were imported, but their embedding could not be queued "
                              f"(task run {run.pk}: {run.message}). Start the broker (REDIS_URL) and a Celery "
                              "worker; planning the next wave then embeds the items still without a vector.")
        elif run.state == TaskRun.PENDING and not settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write(f"Embedding of the new items queued (task run {run.pk}): a Celery worker on the "
                              "'embed' queue must run for them to be embedded.")
