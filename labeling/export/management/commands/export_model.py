"""python manage.py export_model <project> --out FILE.zip"""
from django.core.management.base import BaseCommand, CommandError

from labeling.export import services
from labeling.modeling.versions import active_model
from labeling.projects.models import Project


class Command(BaseCommand):
    help = "Export a project's active model as a zip bundle (head, thresholds, label map, metrics, README)."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--out", required=True)

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"No project with the slug {opts['project']!r}.")
        version = active_model(project)
        if version is None:
            raise CommandError(f"Project {project.slug} has no active model.")
        try:
            data = services.model_bundle(project, version)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        with open(opts["out"], "wb") as out:
            out.write(data)
        self.stderr.write(f"Wrote model v{version.number} of {project.slug} to {opts['out']} ({len(data)} bytes).")
