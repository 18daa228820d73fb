"""Anonymous users see only the login page (and the static files it needs); a refused page gets
the 403 page without a traceback in the log."""
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse

from .errors import permission_denied

OPEN_PREFIXES = ("/accounts/login/", "/static/", "/healthz")


class LoginRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated or request.path.startswith(OPEN_PREFIXES):
            return self.get_response(request)
        if request.path.startswith("/api/") and not request.path.startswith("/api/docs/"):
            # The API answers for itself: token authentication happens in DRF, not here.
            return self.get_response(request)
        if request.path.startswith("/admin/"):
            return self.get_response(request)  # Django admin has its own login
        if request.headers.get("accept", "").startswith("application/json"):
            return JsonResponse({"detail": "Authentication required."}, status=401)
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)


class ForbiddenPageMiddleware:
    """A page's ordinary refusal (PermissionDenied: the user's role does not allow it) gets the 403
    page straight away. Django's own handler would log it with the exception's traceback, which is
    noise for an expected answer; Django's request log still records it as one "Forbidden" line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, PermissionDenied):
            return permission_denied(request, exception)
        return None
