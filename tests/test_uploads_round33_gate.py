"""File parts are stored only for a lead's import, and at most LONGTAIL_MAX_UPLOAD_BYTES of them
per request (security audit: a 1 GiB file part posted without an account was spooled whole to the
server's temp folder before any sign-in, role or size check, and an annotator's three files just
under the limit each were all spooled).

Real multipart bodies through Django's full request path (middleware, CSRF checks, DRF): the body
is read from a stream that, at every read, notes how many bytes the upload temp folder
(FILE_UPLOAD_TEMP_DIR, a folder of this test's own) holds, i.e. what has been spooled so far."""
import io
import os
import uuid

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from labeling.items.models import ImportBatch, Item
from labeling.projects.models import Membership

pytestmark = pytest.mark.django_db
MiB = 1 << 20
CAP = 4 * MiB  # LONGTAIL_MAX_UPLOAD_BYTES in these tests
CSRF = "c" * 32  # a CSRF secret a client may set itself (cookie and header agree)


class WatchedBody(io.BytesIO):
    """wsgi.input: records the temp folder's size before each read of the body."""

    def __init__(self, data: bytes, folder):
        super().__init__(data)
        self.folder, self.peak = folder, 0

    def read(self, size=-1, /):
        self.peak = max(self.peak, spooled(self.folder))
        return super().read(size)


def spooled(folder) -> int:
    return sum(entry.stat().st_size for entry in os.scandir(folder) if entry.is_file())


def multipart(boundary: str, fields=(), files=()) -> bytes:
    """fields: (name, value); files: (field name, file name, content) in that order."""
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields]
    for field, filename, content in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                     "Content-Type: text/csv\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def junk(size: int) -> bytes:
    return b"x" * size


@pytest.fixture
def spool(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    settings.LONGTAIL_MAX_UPLOAD_BYTES = CAP
    settings.MEDIA_ROOT = tmp_path / "media"
    (tmp_path / "spool").mkdir()
    return tmp_path / "spool"


def post(client, spool, path, fields=(), files=(), **extra):
    """The response and the most the temp folder held while the body was read."""
    boundary = uuid.uuid4().hex
    body = WatchedBody(multipart(boundary, fields, files), spool)
    response = client.generic("POST", path, **{
        "wsgi.input": body, "CONTENT_LENGTH": str(len(body.getvalue())),
        "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}", **extra})
    return response, body.peak


@pytest.fixture
def alpha(project_factory, make_user):
    project = project_factory("alpha", labels=("billing", "login"), sources=("email", "chat"))
    lead, annotator = make_user("lena"), make_user("ann")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    Membership.objects.create(user=annotator, project=project, role=Membership.ANNOTATOR)
    return project, lead, annotator


def signed_in(user) -> Client:
    """A browser session that passes the CSRF check (cookie and X-CSRFToken header agree)."""
    client = Client(enforce_csrf_checks=True, raise_request_exception=False, HTTP_X_CSRFTOKEN=CSRF)
    client.force_login(user)
    client.cookies["csrftoken"] = CSRF
    return client


# --- no account ----------------------------------------------------------------------------------
def test_the_token_endpoint_spools_nothing_and_still_reads_the_credentials(spool, make_user):
    make_user("tess", password="pw-Longtail-123")
    client = Client(raise_request_exception=False)
    stranger, peak = post(client, spool, "/api/auth/token/", [("username", "nobody"), ("password", "x")],
                          [("junk", "junk.bin", junk(12 * MiB))], REMOTE_ADDR="198.51.100.71")
    assert stranger.status_code == 400 and "non_field_errors" in stranger.json(), stranger.content[:300]
    assert peak == 0, f"{peak:,} bytes of an anonymous file part were spooled"
    # The view sees the other fields: a user's own credentials still get the token.
    tess, peak = post(client, spool, "/api/auth/token/", [("username", "tess"), ("password", "pw-Longtail-123")],
                      [("junk", "junk.bin", junk(12 * MiB))], REMOTE_ADDR="198.51.100.72")
    assert tess.status_code == 200 and tess.json()["token"], tess.content[:300]
    assert peak == 0
    assert os.listdir(spool) == []


def test_the_sign_in_page_spools_nothing(spool, make_user):
    make_user("tess", password="pw-Longtail-123")
    made_up = Client(enforce_csrf_checks=True, raise_request_exception=False)
    made_up.cookies["csrftoken"] = "a" * 32
    refused, peak = post(made_up, spool, "/accounts/login/", [("username", "tess"), ("password", "x")],
                         [("junk", "junk.bin", junk(12 * MiB))])
    assert refused.status_code == 403 and peak == 0, f"{refused.status_code}: {peak:,} bytes spooled"
    # With the form's CSRF token the page reads its fields as before, the file part dropped.
    browser = Client(enforce_csrf_checks=True, raise_request_exception=False)
    browser.cookies["csrftoken"] = CSRF
    fields = [("csrfmiddlewaretoken", CSRF), ("username", "tess"), ("password", "pw-Longtail-123")]
    signed, peak = post(browser, spool, "/accounts/login/", fields, [("junk", "junk.bin", junk(12 * MiB))])
    assert signed.status_code == 302 and peak == 0, f"{signed.status_code}: {peak:,} bytes spooled"
    assert browser.get("/api/projects/").status_code == 200  # signed in
    assert os.listdir(spool) == []


@pytest.mark.parametrize("path", ["/api/auth/token/", "/accounts/login/", "/admin/login/"])
def test_several_file_parts_without_an_account_are_a_400_not_a_500(spool, path):
    """An import takes one file: a second file part is refused at once (DATA_UPLOAD_MAX_NUMBER_FILES)."""
    made_up = Client(enforce_csrf_checks=True, raise_request_exception=False)
    made_up.cookies["csrftoken"] = "a" * 32
    files = [(f"f{n}", f"f{n}.bin", junk(2 * MiB)) for n in range(3)]
    answer, peak = post(made_up, spool, path, [("username", "nobody"), ("password", "x")], files,
                        REMOTE_ADDR="198.51.100.73")
    assert answer.status_code == 400, answer.content[:300]
    assert peak == 0, f"{path}: {peak:,} bytes spooled"


# --- signed in, a route that takes no files ----------------------------------------------------------
@pytest.mark.parametrize(("path", "status"), [
    ("/api/projects/alpha/annotations/", 400),  # the view reads the form, finds no client_id
    ("/api/projects/alpha/items/bulk/", 403), ("/api/projects/alpha/imports/1/", 403),
    ("/api/projects/alpha/imports", 308),  # no slash: a redirect keeping method and body, the body unread
])
def test_an_annotators_file_part_elsewhere_is_not_spooled(spool, alpha, path, status):
    _, _, annotator = alpha
    answer, peak = post(signed_in(annotator), spool, path, [("item", "1")], [("file", "t.csv", junk(12 * MiB))])
    assert answer.status_code == status, answer.content[:300]
    assert peak == 0, f"{path}: {peak:,} bytes of an annotator's file part were spooled"


def test_a_leads_file_part_outside_the_import_is_dropped_and_the_view_reads_the_rest(spool, alpha):
    project, lead, _ = alpha
    item = Item.objects.create(project=project, source=project.sources.first(), text="a ticket", text_hash="h1")
    answer, peak = post(signed_in(lead), spool, "/api/projects/alpha/items/bulk/",
                        [("action", "review"), ("items", str(item.pk))], [("file", "t.csv", junk(12 * MiB))])
    assert answer.status_code == 200, answer.content[:300]
    assert peak == 0


# --- the import route ----------------------------------------------------------------------------
@pytest.mark.parametrize(("files", "status"), [
    ([("file", "big.csv", junk(12 * MiB))], 403),
    ([(f"f{n}", f"f{n}.csv", junk(3 * MiB)) for n in range(3)], 400),  # too many files, before the role check
], ids=["one file over the limit", "three files under it"])
def test_an_annotator_uploading_to_the_import_spools_nothing(spool, alpha, files, status):
    project, _, annotator = alpha
    answer, peak = post(signed_in(annotator), spool, "/api/projects/alpha/imports/", [], files)
    assert answer.status_code == status, answer.content[:300]
    assert peak == 0, f"{peak:,} bytes of an annotator's import were spooled"
    assert not ImportBatch.objects.filter(project=project).exists()


def test_a_leads_import_still_works(spool, alpha, eager_tasks, django_capture_on_commit_callbacks):
    """Through the API (session and token) and the page: each file is stored and imported."""
    project, lead, _ = alpha
    token = Token.objects.create(user=lead).key
    uploads = [("/api/projects/alpha/imports/", signed_in(lead), {}, "my card was charged twice"),
               ("/api/projects/alpha/imports/", Client(), {"HTTP_AUTHORIZATION": f"Token {token}"}, "refund please"),
               ("/p/alpha/import/", signed_in(lead), {}, "cannot sign in since yesterday")]
    for path, client, extra, text in uploads:
        with django_capture_on_commit_callbacks(execute=True):
            answer, _ = post(client, spool, path, [("csrfmiddlewaretoken", CSRF), ("skip_invalid", "false")],
                             [("file", "tickets.csv", f"text,source\n{text},email\n".encode())], **extra)
        assert answer.status_code in (202, 302), answer.content[:300]
        batch = ImportBatch.objects.filter(project=project).latest("id")
        assert (batch.state, batch.rows_imported) == (ImportBatch.DONE, 1), batch.errors
    assert sorted(Item.objects.filter(project=project).values_list("text", flat=True)) == [
        "cannot sign in since yesterday", "my card was charged twice", "refund please"]
    assert os.listdir(spool) == []


@pytest.mark.parametrize("via", ["api", "page"])
def test_a_leads_oversized_import_stops_at_the_limit(spool, alpha, via):
    project, lead, _ = alpha
    path, fields = ("/api/projects/alpha/imports/", []) if via == "api" else (
        "/p/alpha/import/", [("csrfmiddlewaretoken", CSRF)])
    answer, peak = post(signed_in(lead), spool, path, fields, [("file", "big.csv", junk(12 * MiB))])
    assert answer.status_code == (202 if via == "api" else 302), answer.content[:300]
    assert peak <= CAP, f"{peak:,} bytes spooled, over the {CAP:,} limit"
    batch = ImportBatch.objects.get(project=project)
    assert batch.state == ImportBatch.FAILED
    assert "over the upload limit of 4,194,304 bytes" in batch.errors[0]["message"]
    assert os.listdir(spool) == []


@pytest.mark.parametrize("via", ["api", "page"])
def test_a_leads_second_file_is_refused_before_it_is_spooled(spool, alpha, via):
    project, lead, _ = alpha
    files = [("file", "a.csv", junk(3 * MiB)), ("other", "b.csv", junk(3 * MiB))]
    path, fields = ("/api/projects/alpha/imports/", []) if via == "api" else (
        "/p/alpha/import/", [("csrfmiddlewaretoken", CSRF)])
    answer, peak = post(signed_in(lead), spool, path, fields, files)
    assert answer.status_code == 400, answer.content[:300]
    if via == "api":
        assert "number of files" in answer.json()["detail"]
    assert peak <= 3 * MiB + 64 * 1024, f"{peak:,} bytes spooled: the second file too"
    assert not ImportBatch.objects.filter(project=project).exists()
    assert os.listdir(spool) == []


def test_the_limit_counts_all_the_files_of_a_request(spool, alpha, settings):
    """Were more files allowed, their bytes count together: three files of 3 MiB pass a 4 MiB limit."""
    project, lead, _ = alpha
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    files = [("file", "a.csv", junk(3 * MiB)), ("b", "b.csv", junk(3 * MiB)), ("c", "c.csv", junk(3 * MiB))]
    answer, peak = post(signed_in(lead), spool, "/api/projects/alpha/imports/", [], files)
    assert answer.status_code == 202 and answer.json()["state"] == "failed", answer.content[:300]
    assert peak <= CAP, f"{peak:,} bytes spooled, over the {CAP:,} limit"
    assert "over the upload limit" in ImportBatch.objects.get(project=project).errors[0]["message"]
    assert os.listdir(spool) == []
