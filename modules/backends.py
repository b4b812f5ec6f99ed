"""The authentication backend: Django's ``ModelBackend`` behind the login throttles.

Design choices:
- The throttle lives in the backend, so every way in (the login page, the admin's login, ``Client.login``) meets
  it. A locked account or address is refused before its password is checked, so a right guess during a lock
  teaches the guesser nothing; raising ``PermissionDenied`` makes ``django.contrib.auth.authenticate`` stop there
  and report a failed login.
- Every failure is recorded (for names with no account too: sprays count against their address); a success
  forgets the account's earlier failures. Refused attempts during a lock are not recorded, so the owner's lock does
  not grow while someone keeps knocking; the first failure after it does double the next cool-off.
- The login form (``modules.views.LoginForm``) asks the same selector to tell the person when to try again.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from modules import selectors, services
from modules.api import client_address


class ThrottledModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        address = client_address(request) if request is not None else None
        if selectors.login_block(username=username, address=address) is not None:
            raise PermissionDenied("login throttled")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            services.login_failure_record(username=username, address=address)
        else:
            services.login_failures_clear(username=username)
        return user
