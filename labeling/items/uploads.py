"""The first upload handler of every request (FILE_UPLOAD_HANDLERS): the only files the app takes
are imports, so a file part is written nowhere unless the request goes to an import upload route
and comes from a lead or admin of that project; and the file parts of one request stop being read
once together they pass LONGTAIL_MAX_UPLOAD_BYTES, so an oversized upload never fills the disk.

It has to be a handler, not a check in the views: Django's CSRF middleware, DRF's session
authentication and the token endpoint's throttles read a multipart body before any view checks
who is asking, and whatever the handlers pass on is spooled to a temporary file as it is read."""
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload
from django.urls import Resolver404, resolve

from labeling.projects.models import Project
from labeling.projects.permissions import can_manage

# The routes that take a file (labeling/items/urls.py): the import page and the import API.
IMPORT_UPLOAD_ROUTES = frozenset({"items:import", "items:api-imports"})


def import_upload_slug(request) -> str | None:
    """The project slug when the request's path is an import upload route, else None. The path is
    resolved as Django routes it, so a look-alike path (a prefix, a suffix, a query) is no route."""
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return None
    return match.kwargs.get("slug") if match.view_name in IMPORT_UPLOAD_ROUTES else None


def may_upload(request) -> bool:
    """Whether the request's file parts may be stored: an import upload route, asked by one of the
    project's leads or admins. request.user is the session's user while a CSRF check reads the body,
    and the API's token user once DRF has authenticated (it sets the user on the Django request)."""
    slug = import_upload_slug(request)
    user = getattr(request, "user", None)
    if slug is None or user is None or not user.is_authenticated:
        return False
    project = Project.objects.filter(slug=slug).first()
    return project is not None and can_manage(user, project)


class SizeLimitUploadHandler(FileUploadHandler):
    """Goes first in the handler chain. A file part the request may not upload is skipped before
    any later handler opens a file for it (its bytes are read and dropped; the view sees the other
    fields, without the file). The bytes of all the request's file parts are counted together and
    the upload is stopped (the rest of the body is read and dropped, the file being written is
    deleted) when they pass the limit; `too_big` then tells the import view to refuse it."""

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = settings.LONGTAIL_MAX_UPLOAD_BYTES
        self.received = 0  # over all the request's file parts, not per file
        self.too_big: tuple[str, int] | None = None  # (file name, bytes received when stopped)
        self.allowed: bool | None = None  # decided at the first file part, for the whole request

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self.allowed is None:
            self.allowed = may_upload(self.request)
        if not self.allowed:
            raise SkipFile()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_big = (self.file_name, self.received)
            raise StopUpload(connection_reset=False)
        return raw_data  # pass the chunk on to the next handler (the temporary file)

    def file_complete(self, file_size):
        return None  # the next handler builds the uploaded file


def size_limit_of(request) -> SizeLimitUploadHandler:
    """The request's size limit: the handler FILE_UPLOAD_HANDLERS puts first, or, where settings
    leave it out, one put first now (call it before anything reads the body)."""
    for handler in request.upload_handlers:
        if isinstance(handler, SizeLimitUploadHandler):
            return handler
    limiter = SizeLimitUploadHandler(request)
    request.upload_handlers.insert(0, limiter)
    return limiter
