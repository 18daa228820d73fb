"""Anonymous users see only the login page (and the static files it needs)."""
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse

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
