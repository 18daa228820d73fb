"""Which paths may carry a file: the import page and the import API of a project, resolved as
Django routes them; a look-alike path (another route under the import, no trailing slash, a prefix)
takes none."""
import pytest

from labeling.items.uploads import import_upload_slug


@pytest.mark.parametrize(("path", "slug"), [
    ("/api/projects/alpha/imports/", "alpha"), ("/p/alpha/import/", "alpha"),
    ("/api/projects/alpha/imports/7/", None), ("/p/alpha/import/7/", None), ("/api/projects/alpha/imports", None),
    ("/p/alpha/import/7/rejects.csv", None), ("/api/auth/token/", None), ("/accounts/login/", None),
    ("/x/api/projects/alpha/imports/", None), ("/api/projects/alpha/imports/x/../", None),
])
def test_only_the_import_routes_take_files(rf, path, slug):
    assert import_upload_slug(rf.post(path)) == slug
