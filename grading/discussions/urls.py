"""JSON API routes of discussions (mounted under /api/ by labplatform.urls)."""

from django.urls import path

from grading.discussions import views

urlpatterns = [
    path("modules/<slug:slug>/threads/", views.ThreadListView.as_view(), name="api-module-threads"),
    path("threads/<int:thread_id>/", views.ThreadDetailView.as_view(), name="api-thread-detail"),
    path("threads/<int:thread_id>/posts/", views.ThreadPostView.as_view(), name="api-thread-posts"),
    path("threads/<int:thread_id>/resolve/", views.ThreadResolveView.as_view(), name="api-thread-resolve"),
    path("threads/<int:thread_id>/moderate/", views.ThreadModerateView.as_view(), name="api-thread-moderate"),
    path("threads/<int:thread_id>/assign/", views.ReviewAssignView.as_view(), name="api-thread-assign"),
    path("threads/<int:thread_id>/verdict/", views.ReviewVerdictView.as_view(), name="api-thread-verdict"),
    path("posts/<int:post_id>/edit/", views.PostEditView.as_view(), name="api-post-edit"),
    path("posts/<int:post_id>/hide/", views.PostHideView.as_view(), name="api-post-hide"),
    path("reviews/", views.ReviewQueueView.as_view(), name="api-reviews"),
]
