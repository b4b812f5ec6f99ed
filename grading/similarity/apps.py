"""The similarity app: structural fingerprints of passing submissions and the pairs that look alike."""

from typing import ClassVar

from django.apps import AppConfig

from modules.roles import INSTRUCTOR_GROUP, RolePermissions


class SimilarityConfig(AppConfig):
    name = "grading.similarity"
    label = "similarity"
    verbose_name = "similarity"
    default_auto_field = "django.db.models.BigAutoField"
    role_permissions: ClassVar[RolePermissions] = {
        INSTRUCTOR_GROUP: ("similarity.view_match",),
    }

    def ready(self) -> None:
        from grading.similarity import pages
        from modules import pages as module_pages

        module_pages.module_page.register("similarity", pages.module_page_data)
