"""Routes of the tag policies API; included before the browse API, whose repository routes end in a catch-all."""

from django.urls import path, re_path

from portal.policies.api import views

PROJECT = "projects/<str:project_name>"
TAG = r"^projects/(?P<project_name>[^/]+)/repositories/(?P<repository_name>.+?)/tags/(?P<tag>[^/]+)"

urlpatterns = [
    path(f"{PROJECT}/immutability-rules", views.ImmutabilityRuleList.as_view(), name="immutability-rule-list"),
    path(f"{PROJECT}/immutability-rules/<str:rule_id>", views.ImmutabilityRuleDetail.as_view(),
         name="immutability-rule-detail"),
    path(f"{PROJECT}/policy-settings", views.PolicySettings.as_view(), name="policy-settings"),
    path(f"{PROJECT}/retention-policy", views.RetentionPolicyView.as_view(), name="retention-policy"),
    path(f"{PROJECT}/retention-runs", views.RetentionRunList.as_view(), name="retention-run-list"),
    path(f"{PROJECT}/retention-runs/<str:run_id>", views.RetentionRunDetail.as_view(), name="retention-run-detail"),
    re_path(TAG + r"/history$", views.TagHistoryView.as_view(), name="tag-history"),
    re_path(TAG + r"/restore$", views.TagRestoreView.as_view(), name="tag-restore"),
]
