"""Instructor pages of similarity (mounted at the site root by labplatform.urls)."""

from django.urls import path

from grading.similarity import views

page_urlpatterns = [
    path("instructor/similarity/", views.pairs_page, name="similarity-pairs"),
    path("instructor/similarity/<int:match_id>/", views.pair_page, name="similarity-pair"),
]
