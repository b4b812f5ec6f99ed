"""Roles: the learner, instructor and author groups hold what every installed app grants them."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.management.sql import emit_post_migrate_signal

from modules.services import roles_ensure

pytestmark = pytest.mark.django_db

INSTRUCTOR = {
    "auth.view_user",
    "grading.view_learner",
    "grading.view_submission",
    "grading.view_result",
    "grading.view_submissionevent",
    "modules.view_module",
    "modules.view_route",
    "modules.view_progress",
    "modules.view_unlock",
    "modules.add_unlock",
    "modules.delete_unlock",
    "modules.view_reflection",
    "modules.view_hintreveal",
    "discussions.view_thread",
    "discussions.change_thread",
    "discussions.view_post",
    "lti.view_platform",
    "lti.view_resourcelink",
    "lti.view_passback",
    "milestones.view_certificate",
    "milestones.view_studyday",
    "similarity.view_match",
    "analytics.view_surveyresponse",
}
LEARNER = {"modules.view_module"}
AUTHOR = {
    "modules.view_module",
    "modules.change_module",
    "modules.view_route",
    "modules.add_route",
    "modules.change_route",
    "modules.view_upstreamreport",
}


def granted(group: str) -> set[str]:
    perms = Group.objects.get(name=group).permissions.select_related("content_type")
    return {f"{p.content_type.app_label}.{p.codename}" for p in perms}


def test_a_fresh_migrate_gives_each_role_what_every_app_grants_it():
    """As on an empty database: each app's permissions appear only when its own post-migrate step runs."""
    Group.objects.all().delete()
    Permission.objects.all().delete()
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert granted("instructor") == INSTRUCTOR
    assert granted("learner") == LEARNER
    assert granted("author") == AUTHOR


def test_ensuring_the_roles_again_changes_nothing():
    roles_ensure()
    roles_ensure()
    assert (granted("instructor"), granted("learner"), granted("author")) == (INSTRUCTOR, LEARNER, AUTHOR)


def test_every_permission_an_app_grants_exists():
    declared = [
        (config.label, perm)
        for config in apps.get_app_configs()
        for perms in getattr(config, "role_permissions", {}).values()
        for perm in perms
    ]
    assert {label for label, _ in declared} == {
        "modules",
        "grading",
        "discussions",
        "lti",
        "milestones",
        "similarity",
        "analytics",
    }
    for label, perm in declared:
        app_label, codename = perm.split(".")
        assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), (
            label,
            perm,
        )


def test_instructors_read_every_apps_records_in_the_admin(course, instructor, learner, pass_module):
    submission = pass_module(learner, course["01-hello"])
    for url in (
        "/admin/modules/progress/",
        "/admin/grading/submission/",
        f"/admin/grading/submission/{submission.pk}/change/",
        "/admin/discussions/thread/",
        "/admin/discussions/post/",
    ):
        assert instructor.get(url).status_code == 200, url
