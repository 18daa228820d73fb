"""The 403 page: says why the user may not go on and links back to where they can."""
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

DEFAULT_REASON = "Your account does not have the role this page needs."


def permission_denied(request, exception=None):
    reason = str(exception) if exception is not None and str(exception) else DEFAULT_REASON
    referer = request.headers.get("referer", "")
    back = referer if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()) else None
    parts = request.path.strip("/").split("/")
    project_url = f"/p/{parts[1]}/" if len(parts) >= 2 and parts[0] == "p" and request.path != f"/p/{parts[1]}/" \
        else None
    return render(request, "403.html", {"reason": reason, "back": back, "project_url": project_url,
                                        "home_url": reverse("home")}, status=403)
