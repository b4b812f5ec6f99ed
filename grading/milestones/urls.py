"""JSON API routes of milestones (mounted under /api/ by labplatform.urls); its pages are in ``page_urlpatterns``."""

from django.urls import path

from grading.milestones import views

urlpatterns = [
    path("notifications/", views.NotificationListView.as_view(), name="api-notifications"),
    path("notifications/read/", views.NotificationReadView.as_view(), name="api-notifications-read"),
    path("activity/heartbeat/", views.HeartbeatView.as_view(), name="api-heartbeat"),
    path("notes/upload/", views.NoteUploadView.as_view(), name="api-notes-upload"),
]

page_urlpatterns = [
    path("certificates/<str:code>/", views.certificate_page, name="certificate"),
    path("me/weekly-report.md", views.weekly_report_download, name="weekly-report"),
    path("me/learning-log.md", views.learning_log_download, name="learning-log"),
]
