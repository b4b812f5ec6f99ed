"""JSON API routes of analytics (mounted under /api/ by labplatform.urls); its pages are in ``page_urlpatterns``."""

from django.urls import path

from grading.analytics import views

urlpatterns = [
    path("modules/<slug:slug>/survey/", views.SurveyView.as_view(), name="api-survey"),
]

page_urlpatterns = [
    path("analytics/", views.analytics_page, name="analytics"),
    path("analytics/export.csv", views.analytics_export, name="analytics-export"),
    path("analytics/learners/<str:username>/", views.learner_page, name="analytics-learner"),
]
