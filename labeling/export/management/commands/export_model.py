"""python manage.py export_model <project> [--model-version N] --out FILE.zip

``--version N`` is accepted as another spelling of ``--model-version N`` (the API's export takes
``?version=N``). Django gives every command a ``--version`` that prints Django's version and exits 0:
here that answered ``export_model alpha --version 3`` with a version number and no bundle, so this
command drops Django's flag (argparse's ``conflict_handler="resolve"``, through ``create_parser``'s
documented keyword arguments) and takes the name for the model version."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling.export import bundle
from labeling.projects.models import Project

from ._destination import destination_problem, export_file


class Command(BaseCommand):
    help = ("Export a project's active model, or any ready, active or retired version (--model-version N, or "
            "--version N), as a zip bundle (head, thresholds, label map, metrics, README; a final model's "
            "fine-tuned encoder as encoder/). Django's own --version flag does not apply to this command.")

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version below replaces Django's (which would print Django's version and exit 0).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--model-version", "--version", dest="model_version", type=int, default=None,
                            metavar="N", help="model version number (default: the active model)")
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
