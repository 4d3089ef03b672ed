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
    re_path(TAG + r"/history$", views.TagHistoryView.as_view(), name="tag-history"),
    re_path(TAG + r"/restore$", views.TagRestoreView.as_view(), name="tag-restore"),
]
