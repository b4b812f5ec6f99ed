"""Login and sign-up throttles: an account locks after repeated failures with a doubling cool-off, an address that
sprays failures (or sign-ups) is held back, and a classroom behind one NAT is never locked out by either.

Defaults under test (``labplatform.settings``): 5 failures lock an account for 60 s, each further failure doubles
that up to an hour; 300 failed logins and 200 sign-ups per address and hour. Time is moved with the ``clock``
fixture (``django.utils.timezone.now``), through the real login and sign-up pages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from modules.services import learner_create

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
CLASSROOM = "198.51.100.7"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


def log_in(username: str, password: str, *, address: str = CLASSROOM, **extra) -> tuple[Client, object]:
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address, **extra
    )
    return client, response


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(username: str, times: int, *, address: str = CLASSROOM, **extra) -> None:
    for _ in range(times):
        client, response = log_in(username, "wrong password", address=address, **extra)
        assert not logged_in(client)


# --- the account lock ---------------------------------------------------------------------------------------------
def test_the_right_password_after_thirty_wrong_ones_does_not_log_in(clock, learner):
    fail("ada", 30)
    client, response = log_in("ada", PASSWORD)
    assert not logged_in(client)
    assert response.status_code == 429


def test_a_few_typos_do_not_lock_an_account(clock, learner):
    fail("ada", 4)
    client, _ = log_in("ada", PASSWORD)
    assert logged_in(client)


def test_the_lockout_says_when_to_try_again(clock, learner):
    fail("ada", 5)
    client, response = log_in("ada", PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert "Too many failed logins for this account. Try again in 1 minute." in response.content.decode()


def test_the_failure_that_locks_the_account_already_says_so(clock, learner):
    fail("ada", 4)
    _, response = log_in("ada", "wrong password")
    assert response.status_code == 429
    assert "Try again in 1 minute" in response.content.decode()


def test_the_lockout_message_speaks_chinese(clock, learner):
    fail("ada", 5)
    _, response = log_in("ada", PASSWORD, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "该账户登录失败次数过多，请在 1 分钟后重试。" in response.content.decode()


def test_the_account_opens_again_after_the_cool_off(clock, learner):
    fail("ada", 5)
    clock.advance(59)
    assert not logged_in(log_in("ada", PASSWORD)[0])
    clock.advance(2)
    assert logged_in(log_in("ada", PASSWORD)[0])


def test_each_failure_after_a_lock_doubles_the_cool_off(clock, learner):
    fail("ada", 5)
    clock.advance(61)
    fail("ada", 1)
    clock.advance(119)
    client, response = log_in("ada", PASSWORD)
    assert not logged_in(client) and response["Retry-After"] == "1"
    clock.advance(2)
    assert logged_in(log_in("ada", PASSWORD)[0])


def test_the_cool_off_stops_growing_at_its_cap(clock, learner, settings):
    settings.LAB_LOGIN_LOCKOUT_MAX_SECONDS = 120
    fail("ada", 5)  # 60 s
    clock.advance(61)
    fail("ada", 1)  # 120 s
    clock.advance(121)
    fail("ada", 1)  # 240 s, capped at 120 s
    clock.advance(119)
    assert not logged_in(log_in("ada", PASSWORD)[0])
    clock.advance(2)
    assert logged_in(log_in("ada", PASSWORD)[0])


def test_a_successful_login_forgets_the_earlier_typos(clock, learner):
    fail("ada", 4)
    assert logged_in(log_in("ada", PASSWORD)[0])
    fail("ada", 4)
    assert logged_in(log_in("ada", PASSWORD)[0])


def test_the_lock_holds_on_the_admin_login_too(clock, instructor):
    fail("prof", 5)
    client = Client()
    client.post("/admin/login/", {"username": "prof", "password": PASSWORD}, REMOTE_ADDR=CLASSROOM)
    assert not logged_in(client)


# --- classrooms behind one address ----------------------------------------------------------------------------------
def test_another_account_at_the_same_address_is_not_locked(clock, learner, other_learner):
    fail("ada", 30)
    assert logged_in(log_in("bo", PASSWORD)[0])


def test_a_class_of_sixty_behind_one_address_logs_in_despite_typos(clock):
    names = [f"student{i:02d}" for i in range(60)]
    for name in names:
        User.objects.create_user(username=name, password=PASSWORD)
    for name in names:
        fail(name, 3)
        client, response = log_in(name, PASSWORD)
        assert logged_in(client), (name, response.status_code)


# --- per-address limits ---------------------------------------------------------------------------------------------
def test_an_address_that_sprays_failures_over_many_accounts_is_held_back(clock, learner, settings):
    settings.LAB_LOGIN_FAILURES_PER_ADDRESS_HOUR = 20
    for i in range(20):
        fail(f"victim{i}", 1, address="203.0.113.9")
    client, response = log_in("ada", PASSWORD, address="203.0.113.9")
    assert not logged_in(client) and response.status_code == 429
    assert "Too many failed logins from your network." in response.content.decode()
    assert logged_in(log_in("ada", PASSWORD, address="203.0.113.10")[0])


def test_the_address_limit_forgets_failures_after_an_hour(clock, learner, settings):
    settings.LAB_LOGIN_FAILURES_PER_ADDRESS_HOUR = 20
    for i in range(20):
        fail(f"victim{i}", 1, address="203.0.113.9")
    assert not logged_in(log_in("ada", PASSWORD, address="203.0.113.9")[0])
    clock.advance(3601)
    assert logged_in(log_in("ada", PASSWORD, address="203.0.113.9")[0])


def test_a_forged_forwarded_for_header_does_not_escape_the_address_limit(clock, learner, settings):
    settings.LAB_LOGIN_FAILURES_PER_ADDRESS_HOUR = 20
    for i in range(20):
        fail(f"victim{i}", 1, address="203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
    client, _ = log_in("ada", PASSWORD, address="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert not logged_in(client)


def test_behind_a_trusted_proxy_each_client_address_counts_on_its_own(clock, learner, settings):
    settings.LAB_LOGIN_FAILURES_PER_ADDRESS_HOUR = 20
    settings.LAB_TRUSTED_PROXIES = 1
    proxy = "10.0.0.2"
    for i in range(20):
        fail(f"victim{i}", 1, address=proxy, HTTP_X_FORWARDED_FOR="192.0.2.66, 203.0.113.9")
    blocked, _ = log_in("ada", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert not logged_in(blocked)
    assert logged_in(log_in("ada", PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.10")[0])


# --- sign-ups -------------------------------------------------------------------------------------------------------
def sign_up(username: str, *, address: str = CLASSROOM, **extra):
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {"username": username, "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42"},
        REMOTE_ADDR=address,
        **extra,
    )
    return client, response


def test_sign_ups_from_one_address_are_capped(clock, settings):
    settings.LAB_SIGNUPS_PER_ADDRESS_HOUR = 3
    for i in range(3):
        assert sign_up(f"newcomer{i}")[1].status_code == 302
    client, response = sign_up("newcomer3")
    assert response.status_code == 429 and response["Retry-After"] == "3600"
    assert "Too many sign-ups from your network. Try again in 60 minutes." in response.content.decode()
    assert not User.objects.filter(username="newcomer3").exists()


def test_the_sign_up_limit_message_speaks_chinese(clock, settings):
    settings.LAB_SIGNUPS_PER_ADDRESS_HOUR = 1
    sign_up("newcomer0")
    _, response = sign_up("newcomer1", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "来自你所在网络的注册次数过多，请在 60 分钟后重试。" in response.content.decode()


def test_a_class_of_sixty_signs_up_from_one_address(clock):
    for i in range(60):
        client, response = sign_up(f"pupil{i:02d}")
        assert response.status_code == 302 and logged_in(client), i


def test_the_lock_survives_a_learner_created_through_the_service(clock, db):
    """The throttle sits in the authentication backend, so every login path sees it (here Client.login)."""
    learner_create(username="cy", password=PASSWORD)
    fail("cy", 5)
    assert Client().login(username="cy", password=PASSWORD) is False
