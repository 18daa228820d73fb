"""An upload handler that stops reading a file once it passes LONGTAIL_MAX_UPLOAD_BYTES, so an
oversized upload never fills the disk; the view then records the refusal."""
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class SizeLimitUploadHandler(FileUploadHandler):
    """Goes first in the handler chain: counts the bytes of each file and stops the upload (the
    rest of the request body is read and dropped) when one passes the limit."""

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = settings.LONGTAIL_MAX_UPLOAD_BYTES
        self.received = 0
        self.too_big: tuple[str, int] | None = None  # (file name, bytes received when stopped)

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_big = (self.file_name, self.received)
            raise StopUpload(connection_reset=False)
        return raw_data  # pass the chunk on to the next handler (the temporary file)

    def file_complete(self, file_size):
        return None  # the next handler builds the uploaded file
