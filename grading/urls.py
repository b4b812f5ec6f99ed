"""JSON API routes of the grading app (mounted under /api/ by labplatform.urls)."""

from django.urls import path

from grading import views

urlpatterns = [
    path(
        "modules/<slug:slug>/submissions/", views.SubmissionListView.as_view(), name="api-module-submissions"
    ),
    path(
        "submissions/<int:submission_id>/", views.SubmissionDetailView.as_view(), name="api-submission-detail"
    ),
    path(
        "submissions/<int:submission_id>/export/",
        views.SubmissionExportView.as_view(),
        name="api-submission-export",
    ),
    path("instructor/gradebook.csv", views.GradebookView.as_view(), name="api-gradebook"),
    path("modules/<slug:slug>/reference/", views.ReferenceView.as_view(), name="api-module-reference"),
    path("tools/lint/", views.LintView.as_view(), name="api-tools-lint"),
    path("tools/format/", views.FormatView.as_view(), name="api-tools-format"),
]
