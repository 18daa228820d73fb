"""python manage.py import_items <project-slug> <file> [--skip-invalid [--rejects FILE]] [--format csv|jsonl]

Imports a CSV, TSV or JSONL file. Every bad row is reported (file, line, field, reason) and, without
--skip-invalid, nothing is imported and the command exits with status 1. With --skip-invalid the
valid rows are imported and the rejected ones are written with their reasons to the rejects file
(default: <file>.rejects.csv); the command then exits 0.
"""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from labeling.export.management.commands._destination import destination_problem
from labeling.items.services import import_path
from labeling.projects.models import Project


class Command(BaseCommand):
    help = "Import items from a CSV, TSV or JSONL file into a project (see docs/intake.md)."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("file", help="a .csv or .jsonl file")
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
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        rejects = Path(opts["rejects"]) if opts["rejects"] else path.with_name(path.name + ".rejects.csv")
        # Before validating (minutes on a big file): a folder or a missing folder would fail only
        # once the rejected rows are written, after all that work. The check export's --out makes.
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
