"""The roles: Django groups that every app grants permissions to.

Design choices:
- Three groups: ``learner`` (signup puts every new account here), ``instructor`` (reads learners' work, unlocks
  modules, answers reviews), ``author`` (edits modules). modules owns the groups and the accounts.
- Each app says what its own models grant each role, as ``role_permissions`` on its ``AppConfig``
  (``{group: ("app_label.codename", ...)}``), so no app hard-codes another app's permissions;
  ``modules.services.roles_ensure`` collects them from the installed apps.
- Importable while apps load (an ``apps.py`` reads it): no models here.
"""

from __future__ import annotations

from collections.abc import Mapping

LEARNER_GROUP = "learner"
INSTRUCTOR_GROUP = "instructor"
AUTHOR_GROUP = "author"
GROUPS = (LEARNER_GROUP, INSTRUCTOR_GROUP, AUTHOR_GROUP)

#: What an app grants: group name -> permissions as ``"app_label.codename"``.
RolePermissions = Mapping[str, tuple[str, ...]]
