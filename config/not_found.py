"""The 404 handler (config/urls.py handler404, DEBUG off): an unrouted URL under /api/ answers
JSON, as the 404s DRF's views raise do ({"detail": "Not found."}), so an API client never parses
the site's HTML page; every other path gets the site's page (templates/404.html)."""
from django.http import JsonResponse
from django.views.defaults import page_not_found

API_PREFIX = "/api/"


def not_found(request, exception=None):
    if request.path_info.startswith(API_PREFIX):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
