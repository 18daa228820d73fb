"""python manage.py delete_project <project-slug> [--yes] [--force]

Deletes a project and everything of it (labeling.projects.deletion): it prints what will be deleted
(rows per kind, the folders), then asks for the project's slug to be typed before deleting. --yes
deletes without asking; without --yes and with no terminal to ask on (a script, cron) it refuses.
While a task run or import of the project is queued or running it refuses unless --force.
Every refusal exits with status 1 and deletes nothing.
"""
import sys

from django.core.management.base import BaseCommand, CommandError

from labeling.projects.deletion import ProjectBusy, delete_project, deletion_counts, project_folders, work_in_progress
from labeling.projects.models import Project


class Command(BaseCommand):
    help = "Delete a project with its items, answers, models, imports and files (see docs/operations.md)."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--yes", action="store_true", help="delete without asking for confirmation")
        parser.add_argument("--force", action="store_true",
                            help="delete even while a task run or import of the project is queued or running")

    def handle(self, *args, **opts):
        slug = opts["project"]
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"No project with the slug “{slug}”; nothing deleted.")
        self.stdout.write(f"Project “{project.name}” ({project.slug}) and everything of it will be deleted:")
        for what, count in deletion_counts(project).items():
            self.stdout.write(f"  {count:>10,}  {what}")
        for folder in project_folders(project):
            self.stdout.write(f"  folder {folder}{'' if folder.exists() else ' (absent)'}")
        self.stdout.write("Users and their API tokens stay.")
        work = work_in_progress(project)
        if work:
            if not opts["force"]:
                raise CommandError(f"Work of the project is in progress: {'; '.join(work)}. Nothing deleted: wait "
                                   "for it to end, or run again with --force to delete anyway.")
            self.stderr.write(f"Deleting anyway (--force) while work is in progress: {'; '.join(work)}.")
        if not opts["yes"]:
            self._confirm(project)
        try:
            report = delete_project(project, force=opts["force"])
        except ProjectBusy as exc:  # work started since the check above
            raise CommandError(f"{exc} Nothing deleted; run again with --force to delete anyway.") from None
        except Project.DoesNotExist as exc:
            raise CommandError(str(exc)) from None
        total = sum(report.counts.values())
        self.stdout.write(self.style.SUCCESS(f"Deleted project “{report.slug}” and {total:,} rows of it."))
        for path in report.removed:
            self.stdout.write(f"Removed {path}")
        if report.file_errors:
            raise CommandError("The project is deleted, but these files could not be removed (remove them by hand): "
                               + "; ".join(report.file_errors))

    def _confirm(self, project: Project) -> None:
        stdin = sys.stdin
        if not stdin.isatty():
            raise CommandError(f"Not deleting “{project.slug}”: there is no terminal to confirm on. Run again with "
                               "--yes to delete without asking.")
        self.stdout.write(f"Type the project's slug ({project.slug}) to delete it for good: ", ending="")
        self.stdout.flush()
        answer = stdin.readline().strip()
        if answer != project.slug:
            raise CommandError(f"Not confirmed (typed “{answer}”, not “{project.slug}”); nothing deleted.")
