"""Slugs no project may take: a project's files live in LONGTAIL_ARTIFACT_DIR/<slug>/, beside the
folders every project shares there, so a project named after one of them would have the shared
folder deleted with it (labeling.projects.deletion removes LONGTAIL_ARTIFACT_DIR/<slug>)."""
from django.core.exceptions import ValidationError

# The shared folders under LONGTAIL_ARTIFACT_DIR: the exported ONNX encoders
# (learner.encoders.onnx_export.cache_dir_for) and simulate's embedding cache (its default
# --embedding-cache). tests/test_deploy_round33_reserved_slugs.py checks the first against the code.
SHARED_ARTIFACT_FOLDERS = ("encoders", "emb-cache")


def validate_not_reserved(slug: str) -> None:
    if slug in SHARED_ARTIFACT_FOLDERS:
        raise ValidationError(f"The slug “{slug}” is reserved: the app keeps a folder every project shares under "
                              "that name. Choose another slug.", code="reserved")
