from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def healthz(request):
    return JsonResponse({"ok": True})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", healthz),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Each domain app owns its pages and API routes.
    path("", include("labeling.pages.urls")),
    path("", include("labeling.projects.urls")),
    path("", include("labeling.items.urls")),
    path("", include("labeling.waves.urls")),
    path("", include("labeling.annotations.urls")),
    path("", include("labeling.export.urls")),
    path("", include("labeling.loop.urls")),
]
