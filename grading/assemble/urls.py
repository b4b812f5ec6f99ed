"""JSON API routes of assemble (mounted under /api/ by labplatform.urls); its page is in ``page_urlpatterns``."""

from django.urls import path

from grading.assemble import views

urlpatterns = [
    path("assemble/", views.StagesView.as_view(), name="api-assemble-stages"),
    path("assemble/<slug:stage>/runs/", views.RunCreateView.as_view(), name="api-assemble-runs"),
    path("assemble/<slug:stage>/reply/", views.ReplyView.as_view(), name="api-assemble-reply"),
    path(
        "assemble/replies/<int:reply_id>/", views.ReplyDetailView.as_view(), name="api-assemble-reply-detail"
    ),
]

page_urlpatterns = [
    path("assemble/", views.assemble_page, name="assemble"),
]
