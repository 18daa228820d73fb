"""Slugs no project may take: a project's files live in LONGTAIL_ARTIFACT_DIR/<slug>/, beside the
folders every project shares there, so a project named after one of them would have the shared
folder deleted with it (labeling.projects.deletion removes LONGTAIL_ARTIFACT_DIR/<slug>)."""
from .models import Project

# The shared folders under LONGTAIL_ARTIFACT_DIR: the exported ONNX encoders
# (learner.encoders.onnx_export.cache_dir_for) and simulate's embedding cache (its default
# --embedding-cache). tests/test_deploy_round33_reserved_slugs.py checks the first against the code.
SHARED_ARTIFACT_FOLDERS = ("encoders", "emb-cache")


def new_slug_problem(slug: str) -> str | None:
    """What stops a new project from taking ``slug`` (taken, or reserved), or None. Only new slugs are
    checked: a project that took a reserved one before keeps working (its settings saves never meet this)."""
    if Project.objects.filter(slug=slug).exists():
        return f"A project with the slug “{slug}” already exists."
    return reserved_message(slug) if slug in SHARED_ARTIFACT_FOLDERS else None


def reserved_message(slug: str) -> str:
    return f"The slug “{slug}” is reserved: the app keeps a folder every project shares under that name. Choose another slug."
