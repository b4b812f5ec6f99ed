"""JSON API routes of discussions (mounted under /api/ by labplatform.urls)."""

from django.urls import path

from grading.discussions import views

urlpatterns = [
    path("modules/<slug:slug>/threads/", views.ThreadListView.as_view(), name="api-module-threads"),
    path("threads/<int:thread_id>/", views.ThreadDetailView.as_view(), name="api-thread-detail"),
    path("threads/<int:thread_id>/posts/", views.ThreadPostView.as_view(), name="api-thread-posts"),
    path("threads/<int:thread_id>/resolve/", views.ThreadResolveView.as_view(), name="api-thread-resolve"),
    path("reviews/", views.ReviewQueueView.as_view(), name="api-reviews"),
]
