"""JSON API routes of the modules app (mounted under /api/ by labplatform.urls)."""

from django.urls import path

from modules import views

urlpatterns = [
    path("modules/", views.ModuleListView.as_view(), name="api-modules"),
    path("modules/<slug:slug>/", views.ModuleDetailView.as_view(), name="api-module-detail"),
    path("modules/<slug:slug>/draft/", views.DraftView.as_view(), name="api-module-draft"),
    path("modules/<slug:slug>/hints/reveal/", views.HintRevealView.as_view(), name="api-module-hints-reveal"),
    path("modules/<slug:slug>/reflection/", views.ReflectionView.as_view(), name="api-module-reflection"),
    path(
        "modules/<slug:slug>/carry-forward/",
        views.CarryForwardView.as_view(),
        name="api-module-carry-forward",
    ),
    path("notes/", views.NoteListView.as_view(), name="api-notes"),
    path("badges/", views.BadgeListView.as_view(), name="api-badges"),
]
