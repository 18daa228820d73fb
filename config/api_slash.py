"""A write to an API path without its trailing slash (PATCH /api/projects/alpha) is redirected with
308 Permanent Redirect to the path with the slash, method and body kept. CommonMiddleware's
APPEND_SLASH answers 301, and HTTP clients (requests, curl -L, browsers' fetch) re-send a 301 as a
GET without the body: a PATCH then read the project and answered 200 with nothing saved, a POST
answered 405. A 308 makes them send the same request again (RFC 9110 15.4.9), so the write
happens or fails on its own merits. GET and HEAD keep CommonMiddleware's 301: nothing is lost.

Listed before CommonMiddleware, so that it answers first."""
from django.http import JsonResponse
from django.urls import is_valid_path
from django.utils.http import escape_leading_slashes

from .not_found import API_PREFIX

SAFE_METHODS = ("GET", "HEAD")


class ApiWriteSlashRedirectMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if (request.method not in SAFE_METHODS and path.startswith(API_PREFIX) and not path.endswith("/")
                and self._only_with_slash(request, path)):
            return self._redirect(request)
        return self.get_response(request)

    @staticmethod
    def _only_with_slash(request, path: str) -> bool:
        urlconf = getattr(request, "urlconf", None)
        return not is_valid_path(path, urlconf) and is_valid_path(f"{path}/", urlconf)

    @staticmethod
    def _redirect(request) -> JsonResponse:
        location = escape_leading_slashes(request.get_full_path(force_append_slash=True))
        response = JsonResponse({"detail": f"This address ends with a slash: {request.method} {location}. "
                                           "Send the same request there (308 keeps the method and the body)."},
                                status=308)
        response["Location"] = location
        return response
