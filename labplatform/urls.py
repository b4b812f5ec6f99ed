"""URL map: pages (dashboard, module, progress, measurements, references, discussions, assemble, search, settings, analytics, mentor queue, similarity), auth, language switch, admin, and the JSON API under /api/."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from grading.analytics.urls import page_urlpatterns as analytics_pages
from grading.assemble.urls import page_urlpatterns as assemble_pages
from grading.discussions.views import discussions_page, mentor_queue_page, mentor_review_page
from grading.milestones.urls import page_urlpatterns as milestone_pages
from grading.similarity.urls import page_urlpatterns as similarity_pages
from grading.views import measurements_page
from labplatform.openapi import SchemaView
from modules.site_views import progress_page, references_page, route_choose, search_page, settings_page
from modules.views import LoginView, dashboard, module_page, not_found_page, signup

handler404 = not_found_page

urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("modules/<slug:slug>/", module_page, name="module-page"),
    path("progress/", progress_page, name="progress"),
    path("measurements/", measurements_page, name="measurements"),
    path("references/", references_page, name="references"),
    path("discussions/", discussions_page, name="discussions"),
    path("mentor/reviews/", mentor_queue_page, name="mentor-queue"),
    path("mentor/reviews/<int:thread_id>/", mentor_review_page, name="mentor-review"),
    path("search/", search_page, name="search"),
    path("settings/", settings_page, name="settings"),
    path("settings/route/", route_choose, name="route-choose"),
    path("accounts/signup/", signup, name="signup"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    # the account pages in the lab's look (Django's views; its defaults would render the admin's templates)
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(template_name="accounts/password_change_form.html"),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_change_done.html"),
        name="password_change_done",
    ),
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset_form.html",
            email_template_name="accounts/password_reset_email.txt",
            subject_template_name="accounts/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "accounts/password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(template_name="accounts/password_reset_confirm.html"),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("lti/", include("modules.lti.urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/", include("modules.urls")),
    path("api/", include("grading.urls")),
    path("api/", include("grading.discussions.urls")),
    path("api/", include("grading.milestones.urls")),
    path("api/", include("grading.analytics.urls")),
    path("api/", include("grading.assemble.urls")),
    *milestone_pages,
    *similarity_pages,
    *analytics_pages,
    *assemble_pages,
]
