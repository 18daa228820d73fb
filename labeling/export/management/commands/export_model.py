"""python manage.py export_model <project> [--model-version N] --out FILE.zip"""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling.export import bundle
from labeling.projects.models import Project

from ._destination import destination_problem, export_file


class Command(BaseCommand):
    help = ("Export a project's active model, or any ready, active or retired version (--model-version), as a zip bundle "
            "(head, thresholds, label map, metrics, README; a final model's fine-tuned encoder as encoder/).")

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--model-version", dest="model_version", type=int, default=None,
                            help="model version number (default: the active model)")
        parser.add_argument("--out", required=True)

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"No project with the slug {opts['project']!r}.")
        problem = destination_problem(Path(opts["out"]))
        if problem:  # before the bundle is built
            raise CommandError(f"--out {opts['out']}: {problem}.")
        try:
            version, data = bundle.export_version(project, opts["model_version"])
        except bundle.ExportRefused as exc:
            raise CommandError(str(exc)) from exc
        with export_file(opts["out"], "wb") as out:
            out.write(data)
        self.stderr.write(f"Wrote model v{version.number} of {project.slug} to {opts['out']} ({len(data)} bytes).")
