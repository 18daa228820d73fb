"""python manage.py export_labels <project> --format csv|jsonl --out FILE [--include-duplicates]"""
from django.core.management.base import BaseCommand, CommandError

from labeling.export import services
from labeling.export.formats import FORMATS
from labeling.projects.models import Project


class Command(BaseCommand):
    help = "Export every labeled item of a project (streamed, with a reproducible group-aware split)."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--format", choices=list(FORMATS), default="jsonl")
        parser.add_argument("--out", required=True, help="file to write ('-' for standard output)")
        parser.add_argument("--include-duplicates", action="store_true",
                            help="also export unlabeled exact duplicates with their item's label")
        parser.add_argument("--seed", type=int, default=0, help="split seed (same seed, same split)")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"No project with the slug {opts['project']!r}.")
        chunks = services.stream_export(project, opts["format"], include_duplicates=opts["include_duplicates"],
                                        seed=opts["seed"])
        lines = 0
        if opts["out"] == "-":
            for chunk in chunks:
                self.stdout.write(chunk, ending="")
                lines += 1
        else:
            with open(opts["out"], "w", encoding="utf-8", newline="") as out:
                for chunk in chunks:
                    out.write(chunk)
                    lines += 1
        rows = max(0, lines - FORMATS[opts["format"]].header_lines)
        self.stderr.write(f"Exported {rows} rows of {project.slug} as {opts['format']} to {opts['out']}.")
