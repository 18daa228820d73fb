from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import healthz
from labeling.projects.login_throttle import (
    ThrottledAdminAuthenticationForm,
    ThrottledAuthenticationForm,
    answers_429_when_throttled,
)
from labeling.projects.token_api import ApiTokenView

# Both sign-in forms count attempts in the token endpoint's throttles (labeling.projects.login_throttle).
admin.site.login_form = ThrottledAdminAuthenticationForm
sign_in = answers_429_when_throttled(auth_views.LoginView.as_view(
    template_name="registration/login.html", authentication_form=ThrottledAuthenticationForm))
admin_sign_in = answers_429_when_throttled(admin.site.login)

# The 403 page says why and links back (ForbiddenPageMiddleware serves it for the pages' refusals).
handler403 = "labeling.projects.errors.permission_denied"
# An unrouted /api/ URL answers JSON, as the API's own 404s do; other paths get the site's page.
handler404 = "config.not_found.not_found"
# A request Django refuses before any view (too many form fields, too big a body): the site's page
# naming the limit, JSON under /api/.
handler400 = "config.errors.bad_request"
# An unhandled error (a database that does not answer, most often): the site's page, JSON under /api/.
handler500 = "config.errors.server_error"


class SwaggerPage(SpectacularSwaggerView):
    """The Swagger page answers GET and HEAD only: its one renderer is an HTML template, and DRF's
    OPTIONS answer (a metadata dict with no template) could not be rendered, a 500. Other methods
    get DRF's 405, which the renderer's exception page serves."""

    http_method_names = ["get", "head"]


urlpatterns = [
    path("admin/login/", admin_sign_in),  # ahead of the admin's own route to the same view, to set its status
    path("admin/", admin.site.urls),
    path("accounts/login/", sign_in, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", healthz),
    path("api/auth/token/", ApiTokenView.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerPage.as_view(url_name="schema"), name="swagger-ui"),
    # Each domain app owns its pages and API routes.
    path("", include("labeling.pages.urls")),
    path("", include("labeling.projects.urls")),
    path("", include("labeling.items.urls")),
    path("", include("labeling.waves.urls")),
    path("", include("labeling.annotations.urls")),
    path("", include("labeling.export.urls")),
    path("", include("labeling.loop.urls")),
]
