"""python manage.py export_labels <project> --format csv|jsonl --out FILE [--include-duplicates]
[--no-neutralise-formulas]"""
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from labeling.export import services
from labeling.export.formats import FORMATS
from labeling.projects.models import Project

from ._destination import export_file


def _quiet_closed_stdout(stream) -> None:
    """Point the process's standard output at /dev/null once its pipe is closed: what is still
    buffered would otherwise fail again when Python flushes it at exit ("Exception ignored …
    BrokenPipeError", the advice of Python's signal module documentation). Only the process's own
    standard output: a stream a caller passed (call_command(stdout=…)) is left alone."""
    if stream is not sys.stdout:
        return
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's stream)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class Command(BaseCommand):
    help = "Export every labeled item of a project (streamed, with a reproducible group-aware split)."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--format", choices=list(FORMATS), default="jsonl")
        parser.add_argument("--out", required=True, help="file to write ('-' for standard output)")
        parser.add_argument("--include-duplicates", action="store_true",
                            help="also export unlabeled exact duplicates with their labeled twins' label "
                                 "(left out where the twins disagree, or a twin is disputed)")
        parser.add_argument("--seed", type=int, default=0, help="split seed (same seed, same split)")
        parser.add_argument("--no-neutralise-formulas", action="store_true",
                            help="CSV: write cells starting with = + - @ as stored, without the leading ' that "
                                 "keeps spreadsheets from running them (for pipelines that read the file as data)")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"No project with the slug {opts['project']!r}.")
        report: dict = {}
        chunks = services.stream_export(project, opts["format"], include_duplicates=opts["include_duplicates"],
                                        seed=opts["seed"], neutralise_formulas=not opts["no_neutralise_formulas"],
                                        report=report)
        lines = 0
        if opts["out"] == "-":
            try:
                for chunk in chunks:
                    self.stdout.write(chunk, ending="")
                    lines += 1
                self.stdout.flush()  # a closed pipe is met here, not at exit after the summary
            except BrokenPipeError:  # `… --out - | head -1`: the reader is gone
                _quiet_closed_stdout(self.stdout._out)
                raise CommandError("--out -: cannot write it (Broken pipe: the reader of standard output closed "
                                   "it); the export stopped.") from None
        else:
            with export_file(opts["out"], "w", encoding="utf-8", newline="") as out:
                for chunk in chunks:
                    out.write(chunk)
                    lines += 1
        rows = max(0, lines - FORMATS[opts["format"]].header_lines)
        self.stderr.write(f"Exported {rows} rows of {project.slug} as {opts['format']} to {opts['out']}.")
        left_out = report.get("duplicates_left_out", 0)
        if left_out:
            self.stderr.write(f"Left out {left_out} unlabeled duplicate{'s' if left_out != 1 else ''} whose labeled "
                              "twins disagree on the label or are disputed.")
