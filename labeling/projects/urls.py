from django.urls import path

from . import api, api_waves, rules_views, views

P = "p/<slug:slug>/"
A = "api/projects/<slug:slug>/"

urlpatterns = [
    # Lead pages
    path("projects/new/", views.project_create, name="project-create"),
    path(P + "settings/", views.project_settings, name="project-settings"),
    path(P + "settings/labels/", views.project_labels, name="project-labels"),
    path(P + "settings/sources/", views.project_sources, name="project-sources"),
    path(P + "settings/rules/", rules_views.project_rules, name="project-rules"),
    path(P + "settings/rules/<int:rule_id>/enabled/", rules_views.rule_enable, name="project-rule-enable"),
    path(P + "settings/rules/<int:rule_id>/delete/", rules_views.rule_delete, name="project-rule-delete"),
    path(P + "members/", views.project_members, name="project-members"),
    path(P + "members/<int:membership_id>/remove/", views.member_remove, name="project-member-remove"),
    path(P + "waves/", views.project_waves, name="project-waves"),
    path(P + "waves/status.json", views.waves_status, name="project-waves-status"),
    path(P + "waves/close/", views.wave_close, name="project-wave-close"),
    path(P + "waves/plan/", views.wave_plan, name="project-wave-plan"),
    path(P + "waves/open/", views.wave_open, name="project-wave-open"),
    path(P + "models/retrain/", views.model_retrain, name="project-retrain"),
    path(P + "models/final/", views.model_final, name="project-final-model"),
    # API
    path("api/projects/", api.ProjectListCreate.as_view(), name="api-projects"),
    path(A, api.ProjectDetail.as_view(), name="api-project"),
    path(A + "labels/", api.LabelList.as_view(), name="api-labels"),
    path(A + "labels/<int:pk>/", api.LabelDetail.as_view(), name="api-label"),
    path(A + "sources/", api.SourceList.as_view(), name="api-sources"),
    path(A + "rules/", api.RuleList.as_view(), name="api-rules"),
    path(A + "rules/preview/", api.RulePreview.as_view(), name="api-rule-preview"),
    path(A + "rules/<int:pk>/", api.RuleDetail.as_view(), name="api-rule"),
    path(A + "members/", api.MemberList.as_view(), name="api-members"),
    path(A + "members/<int:pk>/", api.MemberDetail.as_view(), name="api-member"),
    path(A + "waves/", api_waves.WaveList.as_view(), name="api-waves"),
    path(A + "waves/current/", api_waves.WaveCurrent.as_view(), name="api-wave-current"),
    path(A + "waves/plan/", api_waves.WavePlan.as_view(), name="api-wave-plan"),
    path(A + "waves/<int:number>/composition/", api_waves.WaveComposition.as_view(), name="api-wave-composition"),
    path(A + "waves/<int:number>/close/", api_waves.WaveClose.as_view(), name="api-wave-close"),
    path(A + "waves/<int:number>/open/", api_waves.WaveOpen.as_view(), name="api-wave-open"),
    path(A + "models/", api_waves.ModelList.as_view(), name="api-models"),
    path(A + "models/<int:number>/", api_waves.ModelDetail.as_view(), name="api-model"),
    path(A + "models/retrain/", api_waves.ModelRetrain.as_view(), name="api-retrain"),
    path(A + "models/final/", api_waves.ModelFinal.as_view(), name="api-final-model"),
    path(A + "dashboard/", api_waves.DashboardData.as_view(), name="api-dashboard"),
    path(A + "predict/", api.Predict.as_view(), name="api-predict"),
]
