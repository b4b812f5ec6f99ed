"""LTI 1.3 against a real exchange with the test platform (``lti_platform.py``) over loopback: launches, every
refusal, deep linking, roles, grade passback, the JWKS, and the framing and cookies of LTI sessions."""

from __future__ import annotations

import functools
import io
import re
import time
from collections.abc import Iterator
from html import unescape

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from lti_platform import INSTRUCTOR, LEARNER, Placement, SigningKey, TestPlatform, serve
from platform_helpers import pass_result

from grading.services import submission_create, verdict_record
from modules.lti import services as lti_services
from modules.lti.models import Deployment, Identity, LinkMember, Passback, Platform, ResourceLink, ToolKey
from modules.lti.tool import tool_key_current
from modules.models import Module, Progress
from modules.services import learner_create, roles_ensure

LTI_ROWS = (User, Identity, ResourceLink, LinkMember, Passback)


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in LTI_ROWS}


@functools.cache
def tool_key_row() -> dict[str, object]:
    """One signing key of the lab for the whole run, put in each test's database (rotation makes its own)."""
    key = tool_key_current()
    return {f: getattr(key, f) for f in ("kid", "private_key_pem", "public_jwk", "created_at")}


@pytest.fixture
def lms(db, course) -> Iterator[TestPlatform]:
    roles_ensure()
    if not ToolKey.objects.exists():
        row = tool_key_row()
        if not ToolKey.objects.filter(kid=row["kid"]).exists():
            ToolKey.objects.create(**row)
    platform = TestPlatform()
    with serve(platform):
        row = Platform.objects.create(
            name="Test LMS",
            issuer=platform.issuer,
            client_id=platform.client_id,
            auth_login_url=platform.base_url + "/auth",
            auth_token_url=platform.base_url + "/token",
            key_set_url=platform.base_url + "/jwks",
            frame_origins=platform.base_url,
        )
        Deployment.objects.create(platform=row, deployment_id=platform.deployment_id)
        # The platform reads the tool's keys from the tool's JWKS endpoint (read here, in the test's thread).
        keys = Client().get("/lti/jwks/").json()
        platform.tool_jwks = lambda: keys
        yield platform


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Passback ids handed to the queue after commit (the queue's threads and Celery are not started here)."""
    ids: list[int] = []
    monkeypatch.setattr(lti_services, "passback_queue", lambda pk, delay_seconds=0: ids.append(pk))
    return ids


def placement(lms: TestPlatform, module: str = "01-hello") -> Placement:
    return Placement(
        resource_link_id=f"link-{module}",
        url="http://testserver/lti/launch/",
        custom={"module": module},
        lineitem_url=f"{lms.base_url}/lineitems/{module}",
    )


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- launches -----------------------------------------------------------------------------------------------------
def test_a_learner_launch_signs_in_a_new_account_on_the_placed_module(lms):
    client = Client()
    response = lms.launch(client, sub="s-1", roles=LEARNER, placement=placement(lms))
    assert response.status_code == 302 and response["Location"] == "/modules/01-hello/"
    identity = Identity.objects.get(sub="s-1")
    assert signed_in(client) and client.session["_auth_user_id"] == str(identity.user.pk)
    assert identity.user.groups.filter(name="learner").exists() and not identity.user.has_usable_password()
    link = ResourceLink.objects.get()
    assert link.module.slug == "01-hello" and link.lineitem_url == f"{lms.base_url}/lineitems/01-hello"
    assert client.get("/modules/01-hello/").status_code == 200


def test_one_account_per_platform_identity_never_merged_with_a_local_account(lms):
    local = learner_create(username="ada", password="correct horse battery", email="s-1@uni.example")
    first, second = Client(), Client()
    lms.launch(first, sub="s-1", roles=LEARNER, placement=placement(lms))
    lms.context_id = "course-ml-102"
    lms.launch(second, sub="s-1", roles=LEARNER, placement=placement(lms, "02-next"))
    identity = Identity.objects.get(sub="s-1")
    assert first.session["_auth_user_id"] == second.session["_auth_user_id"] == str(identity.user.pk)
    assert identity.user.pk != local.pk and User.objects.count() == 2
    assert set(identity.user.lti_links.values_list("module__slug", flat=True)) == {"01-hello", "02-next"}


def test_the_platform_keys_are_cached_and_fetched_again_after_the_platform_rotates_them(lms):
    lms.launch(Client(), sub="s-1", roles=LEARNER, placement=placement(lms))
    lms.launch(Client(), sub="s-1", roles=LEARNER, placement=placement(lms))
    assert lms.jwks_fetches == 1
    lms.key = SigningKey("platform-key-2")
    assert lms.launch(Client(), sub="s-1", roles=LEARNER, placement=placement(lms)).status_code == 302
    assert lms.jwks_fetches == 2


def test_an_instructor_role_maps_onto_the_instructor_group(lms):
    client = Client()
    lms.launch(client, sub="t-1", roles=INSTRUCTOR, placement=placement(lms))
    user = Identity.objects.get(sub="t-1").user
    assert user.groups.filter(name="instructor").exists() and not user.is_staff


def test_the_roster_service_maps_roles_of_members_who_launched(lms):
    lms.launch(Client(), sub="s-1", roles=LEARNER, placement=placement(lms))
    lms.roster = [
        {"user_id": "s-1", "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#TeachingAssistant"]},
        {"user_id": "never-launched", "roles": LEARNER},
    ]
    admin = User.objects.create_superuser("root", password="correct horse battery")
    client = Client()
    client.force_login(admin)
    action = {"action": "roster_sync", "_selected_action": [ResourceLink.objects.get().pk]}
    page = client.post("/admin/lti/resourcelink/", action, follow=True).content.decode()
    assert "Roles mapped for 1 account(s)." in page
    assert Identity.objects.get(sub="s-1").user.groups.filter(name="instructor").exists()
    assert not Identity.objects.filter(sub="never-launched").exists()


REFUSALS = {
    "bad_signature": lambda lms: {"key": SigningKey(lms.key.kid)},
    "wrong_audience": lambda lms: {"aud": "another-tool"},
    "expired": lambda lms: {"iat": int(time.time()) - 900, "exp": int(time.time()) - 600},
    "unknown_deployment": lambda lms: {CLAIM_DEPLOYMENT: "deployment-unknown"},
    "missing_roles": lambda lms: {"roles": None},
    "invalid": lambda lms: {"sub": None},  # anonymous: no account to sign in
}
CLAIM_DEPLOYMENT = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"


@pytest.mark.parametrize("code", sorted(REFUSALS))
def test_a_bad_launch_is_refused_with_a_clear_page_and_nothing_stored(lms, code):
    before = row_counts()
    client = Client()
    state, nonce = lms.login(client, login_hint="s-1")
    change = dict(REFUSALS[code](lms))
    key = change.pop("key", None)
    roles = change.pop("roles", LEARNER)
    claims = lms.claims(nonce=nonce, sub="s-1", roles=roles, placement=placement(lms))
    claims.update(change)
    claims = {k: v for k, v in claims.items() if v is not None}
    response = client.post("/lti/launch/", {"id_token": lms.id_token(claims, key=key), "state": state})
    assert response.status_code == 400
    page = response.content.decode()
    assert f'data-code="{code}"' in page and "The course launch was refused" in page
    assert "Nothing was saved" in page
    assert row_counts() == before and not signed_in(client)


def test_a_replayed_launch_is_refused_and_stores_nothing(lms):
    client = Client()
    state, nonce = lms.login(client, login_hint="s-1")
    token = lms.id_token(lms.claims(nonce=nonce, sub="s-1", roles=LEARNER, placement=placement(lms)))
    assert client.post("/lti/launch/", {"id_token": token, "state": state}).status_code == 302
    before = row_counts()
    attacker = Client()
    attacker.cookies = client.cookies  # even with the victim's state cookie
    attacker.cookies.pop("sessionid", None)
    response = attacker.post("/lti/launch/", {"id_token": token, "state": state})
    assert response.status_code == 400 and 'data-code="replayed"' in response.content.decode()
    assert row_counts() == before and not signed_in(attacker)


def test_a_launch_without_its_login_state_cookie_is_refused(lms):
    state, nonce = lms.login(Client(), login_hint="s-1")
    token = lms.id_token(lms.claims(nonce=nonce, sub="s-1", roles=LEARNER, placement=placement(lms)))
    response = Client().post("/lti/launch/", {"id_token": token, "state": state})
    assert response.status_code == 400 and 'data-code="bad_state"' in response.content.decode()


def test_a_login_from_an_unregistered_platform_is_refused(lms):
    response = Client().post(
        "/lti/login/", {"iss": "https://evil.example", "login_hint": "x", "client_id": "c"}
    )
    assert response.status_code == 400 and 'data-code="unknown_platform"' in response.content.decode()


def test_a_launch_endpoint_takes_only_post(lms):
    assert Client().get("/lti/launch/").status_code == 405


# --- deep linking and grade passback ------------------------------------------------------------------------------
def deep_link_answers(page: str) -> dict[str, str]:
    """The signed answer behind each choice of the deep-linking page: {module slug or 'route': JWT}."""
    answers = {}
    for slug, jwt_value in re.findall(
        r'data-module="([^"]*)">\s*<form[^>]*>\s*<input [^>]*value="([^"]+)"', page
    ):
        answers[slug or "route"] = unescape(jwt_value)
    return answers


def test_deep_linking_is_refused_to_learners(lms):
    before = row_counts()
    response = lms.launch(Client(), sub="s-1", roles=LEARNER)
    assert response.status_code == 400 and 'data-code="not_instructor"' in response.content.decode()
    assert row_counts() == before


def test_deep_linking_offers_each_module_and_the_route_posting_back_to_the_platform(lms):
    response = lms.launch(Client(), sub="t-1", roles=INSTRUCTOR)
    assert response.status_code == 200
    answers = deep_link_answers(response.content.decode())
    assert set(answers) == {"01-hello", "02-next", "route"}
    assert f'action="{lms.base_url}/deep-link-return"' in response.content.decode()
    policy = response.headers["Content-Security-Policy"]
    assert (
        f"form-action 'self' {lms.base_url}" in policy and f"frame-ancestors 'self' {lms.base_url}" in policy
    )
    placed = lms.deep_link_receive(answers["02-next"])
    assert placed.custom == {"module": "02-next"}


def test_a_deep_linked_module_passed_by_a_learner_reaches_the_gradebook_exactly_once(
    lms, queued, django_capture_on_commit_callbacks
):
    # The instructor places module 01-hello in the course.
    teacher = Client()
    page = lms.launch(teacher, sub="t-1", roles=INSTRUCTOR).content.decode()
    placed = lms.deep_link_receive(deep_link_answers(page)["01-hello"])
    # The learner launches it, passes it and reflects: the module is completed.
    student = Client()
    assert lms.launch(student, sub="s-1", roles=LEARNER, placement=placed)["Location"] == "/modules/01-hello/"
    user = Identity.objects.get(sub="s-1").user
    hello = Module.objects.get(slug="01-hello")
    path = hello.metadata["files"][0]["path"]
    submission = submission_create(
        user=user, module=hello, files={path: "def greet(name):\n    return name\n"}
    )
    verdict_record(submission_id=submission.pk, result=pass_result("01-hello"))
    assert queued == []  # passed, not yet completed (DECISIONS.md: passback reads "completed")
    answers = {"answers": {"q1": "a", "q2": "Strings."}}
    with django_capture_on_commit_callbacks(execute=True):
        response = student.post("/api/modules/01-hello/reflection/", answers, content_type="application/json")
    assert response.status_code in (200, 201), response.content
    assert Progress.objects.get(user=user, module=hello).status == Progress.Status.COMPLETED
    assert len(queued) == 1
    # The queue delivers it; any later delivery of the same row, a resubmitted reflection or another passing
    # run sends nothing more.
    assert lti_services.passback_deliver(passback_id=queued[0]).sent
    assert not lti_services.passback_deliver(passback_id=queued[0]).sent
    with django_capture_on_commit_callbacks(execute=True):
        student.post("/api/modules/01-hello/reflection/", answers, content_type="application/json")
        again = submission_create(
            user=user, module=hello, files={path: "def greet(name):\n    return name\n"}
        )
        verdict_record(submission_id=again.pk, result=pass_result("01-hello"))
    assert len(queued) == 1
    (score,) = lms.scores["/lineitems/1"]
    assert score["userId"] == "s-1" and score["scoreGiven"] == 2 and score["scoreMaximum"] == 2
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert Passback.objects.get().status == Passback.Status.SENT


def test_a_refused_score_is_retried_until_the_platform_accepts_it(
    lms, queued, django_capture_on_commit_callbacks
):
    student = Client()
    lms.launch(student, sub="s-1", roles=LEARNER, placement=placement(lms))
    user = Identity.objects.get(sub="s-1").user
    hello = Module.objects.get(slug="01-hello")
    submission = submission_create(
        user=user, module=hello, files={hello.metadata["files"][0]["path"]: "x = 1\n"}
    )
    verdict_record(submission_id=submission.pk, result=pass_result("01-hello"))
    with django_capture_on_commit_callbacks(execute=True):
        student.post(
            "/api/modules/01-hello/reflection/",
            {"answers": {"q1": "a", "q2": "Strings."}},
            content_type="application/json",
        )
    (passback_id,) = queued
    lms.fail_scores = 2
    first = lti_services.passback_deliver(passback_id=passback_id)
    second = lti_services.passback_deliver(passback_id=passback_id)
    assert not first.sent and not second.sent and first.retry_in == 30 and second.retry_in == 60
    row = Passback.objects.get()
    assert row.status == Passback.Status.PENDING and row.attempts == 2 and "503" in row.last_error
    assert lti_services.passbacks_due() == []  # not before its retry time
    Passback.objects.update(next_attempt_at=row.created_at)
    assert lti_services.passbacks_due() == [passback_id]
    assert lti_services.passback_deliver(passback_id=passback_id).sent
    assert len(lms.scores["/lineitems/01-hello"]) == 1 and lti_services.passbacks_due() == []


# --- keys, framing, cookies ---------------------------------------------------------------------------------------
def test_the_jwks_keeps_the_previous_key_after_a_rotation_and_retires_older_ones(lms):
    from django.core.management import call_command

    first = Client().get("/lti/jwks/").json()["keys"]
    call_command("lti_rotate_key", stdout=io.StringIO())
    second = Client().get("/lti/jwks/").json()["keys"]
    call_command("lti_rotate_key", stdout=io.StringIO())
    third = Client().get("/lti/jwks/").json()["keys"]
    assert len(first) == 1 and len(second) == 2 and len(third) == 2
    assert first[0]["kid"] in {k["kid"] for k in second} and first[0]["kid"] not in {k["kid"] for k in third}
    assert all(k["alg"] == "RS256" and k["use"] == "sig" and "d" not in k for k in third)
    # A deep-linking answer is signed by the newest key.
    lms.tool_jwks = lambda: {"keys": third}
    page = lms.launch(Client(), sub="t-1", roles=INSTRUCTOR).content.decode()
    assert lms.deep_link_receive(deep_link_answers(page)["route"]).custom == {"module": ""}


def test_lti_sessions_get_cross_site_cookies_and_their_platform_may_frame_them(lms, learner):
    client = Client()
    response = lms.launch(client, sub="s-1", roles=LEARNER, placement=placement(lms), locale="zh-CN")
    session_cookie = response.cookies["sessionid"]
    assert session_cookie["samesite"] == "None" and session_cookie["secure"]
    assert response.cookies["django_language"].value == "zh-hans"
    page = client.get("/modules/01-hello/")
    assert f"frame-ancestors 'self' {lms.base_url}" in page.headers["Content-Security-Policy"]
    assert '<html lang="zh-hans">' in page.content.decode()
    # A local login's pages keep the lab's own framing only.
    local = learner.get("/modules/01-hello/")
    assert "frame-ancestors 'self';" in local.headers["Content-Security-Policy"] + ";"
    assert lms.base_url not in local.headers["Content-Security-Policy"]


@pytest.mark.django_db(transaction=True)
def test_in_embedded_mode_a_completion_sends_its_score_from_a_worker_thread(lms, settings):
    settings.LAB_GRADING_QUEUE = "embedded"
    student = Client()
    lms.launch(student, sub="s-1", roles=LEARNER, placement=placement(lms))
    user = Identity.objects.get(sub="s-1").user
    hello = Module.objects.get(slug="01-hello")
    submission = submission_create(
        user=user, module=hello, files={hello.metadata["files"][0]["path"]: "x = 1\n"}
    )
    verdict_record(submission_id=submission.pk, result=pass_result("01-hello"))
    student.post(
        "/api/modules/01-hello/reflection/",
        {"answers": {"q1": "a", "q2": "Strings."}},
        content_type="application/json",
    )
    deadline = time.monotonic() + 30
    while not lms.scores and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [s["scoreGiven"] for s in lms.scores["/lineitems/01-hello"]] == [2]
    while Passback.objects.get().status != Passback.Status.SENT and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Passback.objects.get().status == Passback.Status.SENT


def test_a_route_link_gets_the_share_of_completed_modules(lms, queued, django_capture_on_commit_callbacks):
    route = Placement(
        "link-route", "http://testserver/lti/launch/", {"module": ""}, f"{lms.base_url}/lineitems/route"
    )
    student = Client()
    assert lms.launch(student, sub="s-1", roles=LEARNER, placement=route)["Location"] == "/"
    user = Identity.objects.get(sub="s-1").user
    hello = Module.objects.get(slug="01-hello")
    submission = submission_create(
        user=user, module=hello, files={hello.metadata["files"][0]["path"]: "x = 1\n"}
    )
    verdict_record(submission_id=submission.pk, result=pass_result("01-hello"))
    with django_capture_on_commit_callbacks(execute=True):
        student.post(
            "/api/modules/01-hello/reflection/",
            {"answers": {"q1": "a", "q2": "Strings."}},
            content_type="application/json",
        )
    (passback_id,) = queued
    assert lti_services.passback_deliver(passback_id=passback_id).sent
    (score,) = lms.scores["/lineitems/route"]
    assert score["scoreGiven"] == 50.0 and score["scoreMaximum"] == 100.0  # one of the course's two modules


def test_a_platform_can_be_registered_from_the_command_line(db):
    from django.core.management import call_command

    args = ["--name=Canvas", "--issuer=https://canvas.instructure.com", "--client-id=100"]
    args += ["--auth-login-url=https://sso.canvaslms.com/api/lti/authorize_redirect"]
    args += ["--auth-token-url=https://sso.canvaslms.com/login/oauth2/token"]
    args += ["--key-set-url=https://sso.canvaslms.com/api/lti/security/jwks", "--deployment=1:abc"]
    args += ["--frame-origin=https://school.instructure.com"]
    call_command("lti_register", *args, stdout=io.StringIO())
    call_command("lti_register", *args, "--deployment=2:def", stdout=io.StringIO())
    platform = Platform.objects.get()
    assert platform.frame_origins == "https://school.instructure.com"
    assert sorted(platform.deployments.values_list("deployment_id", flat=True)) == ["1:abc", "2:def"]
    with pytest.raises(ValidationError):
        call_command("lti_register", *args[:-1], "--frame-origin=https://x.example/ *", stdout=io.StringIO())


def test_platforms_are_registered_in_the_admin_with_their_deployments(lms):
    admin = User.objects.create_superuser("root", password="correct horse battery")
    client = Client()
    client.force_login(admin)
    form = {
        "name": "Moodle",
        "is_active": "on",
        "issuer": "https://moodle.uni.example",
        "client_id": "abc",
        "key_set_url": "https://moodle.uni.example/mod/lti/certs.php",
        "auth_login_url": "https://moodle.uni.example/mod/lti/auth.php",
        "auth_token_url": "https://moodle.uni.example/mod/lti/token.php",
        "auth_audience": "",
        "frame_origins": "https://moodle.uni.example",
        "deployments-TOTAL_FORMS": "1",
        "deployments-INITIAL_FORMS": "0",
        "deployments-0-deployment_id": "7",
    }
    assert client.post("/admin/lti/platform/add/", form).status_code == 302
    assert list(
        Platform.objects.get(client_id="abc").deployments.values_list("deployment_id", flat=True)
    ) == ["7"]
    bad = {**form, "client_id": "def", "frame_origins": "https://x.example; script-src *"}
    assert client.post("/admin/lti/platform/add/", bad).status_code == 200  # the form shows the error
    assert not Platform.objects.filter(client_id="def").exists()
