"""Milestones: notifications (unlock, badge, certificate, replies, review requests) with an unread count, the
certificate anyone can verify, study time from heartbeats, the weekly report, the learning log as Markdown and
note upload."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.utils import timezone
from test_platform_pages import page_data
from test_platform_schemas import conforms

from grading.discussions.services import post_create, thread_create
from grading.milestones import selectors, services
from grading.milestones.models import Certificate, Notification, StudyDay
from modules.models import Progress, Reflection
from modules.services import note_create, reflection_submit

pytestmark = pytest.mark.django_db

ANSWERS = {"q1": "a", "q2": "Strings are easy."}
NOTIFICATIONS = "/api/notifications/"
READ = "/api/notifications/read/"
UPLOAD = "/api/notes/upload/"


def complete(persona, module, pass_module) -> None:
    """Passed and reflected: ``01-hello`` through its reflection; ``02-next`` (which has no questions) with the
    reflection row in place before its pass."""
    if module.payload.get("reflection"):
        pass_module(persona, module)
        reflection_submit(user=persona.user, module=module, answers=ANSWERS)
    else:
        Reflection.objects.create(user=persona.user, module=module, answers={}, submitted_at=timezone.now())
        pass_module(persona, module)


def keys(persona) -> set[str]:
    return set(Notification.objects.filter(user=persona.user).values_list("key", flat=True))


def test_completing_a_module_notifies_the_module_it_opens_and_the_badges_once(
    course, learner, hello, pass_module
):
    pass_module(learner, hello)
    assert "unlock:02-next" not in keys(learner)  # passed is not completed: 02-next still waits
    assert {"badge:first_pass", "badge:unaided"} <= keys(learner)
    reflection_submit(user=learner.user, module=hello, answers=ANSWERS)
    assert "unlock:02-next" in keys(learner)
    unlock = Notification.objects.get(user=learner.user, key="unlock:02-next")
    assert unlock.url == "/modules/02-next/" and unlock.title["en"].startswith("Module unlocked: ")
    assert unlock.title["zh"].startswith("模块已解锁：")
    assert services.milestones_sync(user=learner.user) == 0  # idempotent


def standing_from_before(persona, module, pass_module) -> None:
    """``persona`` passed and reflected on ``module`` a month ago, before any sync could notify them (a learner
    from before milestones existed, or one whose progress was imported)."""
    complete(persona, module, pass_module)
    Notification.objects.filter(user=persona.user).delete()
    month = timedelta(days=30)
    Progress.objects.filter(user=persona.user).update(
        passed_at=F("passed_at") - month, completed_at=F("completed_at") - month
    )
    Reflection.objects.filter(user=persona.user).update(submitted_at=F("submitted_at") - month)


def test_a_first_sync_records_what_was_earned_before_as_read_under_one_unread_summary(
    course, learner, hello, pass_module
):
    standing_from_before(learner, hello, pass_module)
    note_create(user=learner.user, text="Back after a break.")  # a change of standing: the first sync
    earlier = {"unlock:02-next", "badge:first_pass", "badge:unaided", "badge:halfway"}
    rows = {n.key: n for n in Notification.objects.filter(user=learner.user)}
    assert set(rows) == earlier | {"summary:earlier"}
    assert all(rows[key].read_at is not None for key in earlier)
    summary = rows["summary:earlier"]
    assert summary.read_at is None and summary.kind == "summary" and summary.url == "/#badges"
    assert summary.title == {
        "en": "4 milestones from before: see your dashboard",
        "zh": "此前的 4 个里程碑：请查看你的学习面板",
    }
    assert learner.get_json(NOTIFICATIONS).json()["unread"] == 1


def test_after_the_first_sync_what_a_change_earns_is_notified_one_by_one(course, learner, hello, pass_module):
    standing_from_before(learner, hello, pass_module)
    # the first sync: completing 02-next earns the certificate and a badge now
    complete(learner, course["02-next"], pass_module)
    unread = set(
        Notification.objects.filter(user=learner.user, read_at__isnull=True).values_list("key", flat=True)
    )
    assert unread == {"summary:earlier", "badge:graduate", "certificate:course"}
    learner.post_json(READ, {})
    note_create(user=learner.user, text="One more.")
    for text in ("two", "three", "four", "five"):
        note_create(user=learner.user, text=text)
    assert set(
        Notification.objects.filter(user=learner.user, read_at__isnull=True).values_list("key", flat=True)
    ) == {"badge:chronicler"}


def test_a_new_learners_first_pass_notifies_each_milestone(course, learner, hello, pass_module):
    pass_module(learner, hello)
    unread = Notification.objects.filter(user=learner.user, read_at__isnull=True)
    assert set(unread.values_list("key", flat=True)) == {"badge:first_pass", "badge:unaided", "badge:halfway"}


def test_the_bell_lists_own_notifications_newest_first_and_marks_them_read(
    course, learner, other_learner, hello, pass_module
):
    pass_module(learner, hello)
    body = learner.get_json(NOTIFICATIONS).json()
    assert body["unread"] == len(body["items"]) >= 2
    assert other_learner.get_json(NOTIFICATIONS).json() == {"unread": 0, "items": []}
    first = body["items"][0]["id"]
    after = learner.post_json(READ, {"ids": [first]}).json()
    assert after["unread"] == body["unread"] - 1
    assert next(i for i in after["items"] if i["id"] == first)["read"] is True
    assert (
        other_learner.post_json(READ, {}).json()["unread"] == 0
    )  # another learner's ids are not theirs to read
    assert learner.post_json(READ, {}).json()["unread"] == 0


def test_the_bell_rejects_bad_ids_wrong_methods_and_anonymous_callers(course, learner, anonymous):
    response = learner.post_json(READ, {"ids": "all"})
    assert response.status_code == 400 and response.json()["code"] == "ids_invalid"
    assert learner.post_json(READ, {"ids": [True]}).status_code == 400
    assert learner.post_json(NOTIFICATIONS, {}).status_code == 405
    assert anonymous.get_json(NOTIFICATIONS).status_code == 403
    assert anonymous.post_json("/api/activity/heartbeat/", {}).status_code == 403


def test_the_bell_answers_in_the_learners_language(course, learner, hello, pass_module):
    pass_module(learner, hello)
    zh = learner.get(NOTIFICATIONS, HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert any(i["title"].startswith("获得徽章：") for i in zh["items"])


def test_completing_every_module_issues_one_course_certificate_anyone_can_verify(
    course, learner, anonymous, pass_module
):
    complete(learner, course["01-hello"], pass_module)
    assert not Certificate.objects.exists()
    complete(learner, course["02-next"], pass_module)
    certificate = Certificate.objects.get(user=learner.user)
    assert certificate.scope == "course" and [m["slug"] for m in certificate.modules] == [
        "01-hello",
        "02-next",
    ]
    notice = Notification.objects.get(user=learner.user, key="certificate:course")
    assert notice.url == f"/certificates/{certificate.code}/"
    services.milestones_sync(user=learner.user)
    assert Certificate.objects.filter(user=learner.user).count() == 1

    page = anonymous.get(notice.url)
    assert page.status_code == 200
    html = page.content.decode()
    assert (
        "ada" in html
        and certificate.code in html
        and f"http://testserver/certificates/{certificate.code}/" in html
    )
    zh = anonymous.get(notice.url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "结业证书" in zh
    assert anonymous.get("/certificates/not-a-real-code/").status_code == 404
    assert anonymous.post(notice.url).status_code == 405


def test_a_reply_notifies_the_threads_author_and_a_review_request_the_mentors(
    course, learner, instructor, hello, submit
):
    attempt = submit(learner, hello)
    thread = thread_create(
        author=learner.user,
        module=hello,
        kind="review",
        title="Why?",
        body="Please look.",
        submission=attempt.pk,
    )
    asked = Notification.objects.get(user=instructor.user, key=f"review:{thread.pk}")
    assert asked.kind == "review_request" and asked.url == f"/modules/01-hello/#thread-{thread.pk}"
    assert not Notification.objects.filter(user=learner.user, kind="review_request").exists()
    post_create(author=learner.user, thread=thread, body="Any news?")
    assert not Notification.objects.filter(user=learner.user, kind__in=["reply", "mentor_reply"]).exists()
    post = post_create(author=instructor.user, thread=thread, body="Looks good.")
    reply = Notification.objects.get(user=learner.user, key=f"post:{post.pk}")
    assert reply.kind == "mentor_reply" and reply.title["en"] == "A mentor replied: Why?"


def test_heartbeats_credit_the_time_between_them_up_to_the_cap(course, learner):
    start = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0)
    services.study_heartbeat(user=learner.user, now=start)
    services.study_heartbeat(user=learner.user, now=start + timedelta(seconds=60))
    services.study_heartbeat(user=learner.user, now=start + timedelta(seconds=90))
    assert StudyDay.objects.get(user=learner.user).seconds == 90
    # back after a long break: the break is not study time, the beats after it are
    services.study_heartbeat(user=learner.user, now=start + timedelta(hours=2))
    row = services.study_heartbeat(user=learner.user, now=start + timedelta(hours=2, seconds=60))
    assert row.seconds == 150
    assert learner.post_json("/api/activity/heartbeat/", {}).json() == {"today_seconds": 150}


def test_the_weekly_report_counts_this_weeks_passes_attempts_time_and_streak(
    course, learner, hello, pass_module
):
    today = timezone.localdate()
    pass_module(learner, hello)
    for back, seconds in ((0, 600), (1, 300), (2, 60), (4, 900)):
        StudyDay.objects.create(
            user=learner.user, day=today - timedelta(days=back), seconds=seconds, last_beat=timezone.now()
        )
    report = selectors.weekly_report(user=learner.user, lang="en", today=today)
    monday = today - timedelta(days=today.weekday())
    assert report["week_start"] == monday.isoformat()
    assert [m["slug"] for m in report["modules_passed"]] == ["01-hello"]
    assert report["attempts"] == 1 and report["streak_days"] == 3
    in_week = sum(
        s for back, s in ((0, 600), (1, 300), (2, 60), (4, 900)) if today - timedelta(days=back) >= monday
    )
    assert report["study_seconds"] == in_week and report["total_study_seconds"] == 1860

    download = learner.get("/me/weekly-report.md")
    assert download["Content-Type"].startswith("text/markdown")
    assert "attachment" in download["Content-Disposition"]
    text = download.content.decode()
    assert "# Weekly report — ada" in text and "- Attempts: 1" in text and "- Streak (days): 3" in text


def test_a_streak_survives_a_day_not_yet_studied_and_breaks_on_a_gap():
    today = date(2026, 12, 7)
    assert (
        selectors.streak_days(days={today - timedelta(days=1), today - timedelta(days=2)}, today=today) == 2
    )
    assert selectors.streak_days(days={today, today - timedelta(days=2)}, today=today) == 1
    assert selectors.streak_days(days=set(), today=today) == 0


def test_the_learning_log_exports_notes_and_reflections_as_markdown(
    course, learner, anonymous, hello, pass_module
):
    note_create(user=learner.user, module=hello, text="Attention is a weighted average.")
    pass_module(learner, hello)
    reflection_submit(user=learner.user, module=hello, answers=ANSWERS)
    text = learner.get("/me/learning-log.md").content.decode()
    assert "## Notes" in text and "Attention is a weighted average." in text
    assert "**What does greet return?**\n\na string" in text and "Strings are easy." in text
    zh = learner.get("/me/learning-log.md", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "**greet 返回什么？**\n\n字符串" in zh
    assert anonymous.get("/me/learning-log.md").status_code == 302


def upload(persona, name: str, data: bytes, **extra):
    return persona.post(UPLOAD, {"file": SimpleUploadedFile(name, data), **extra})


def test_a_markdown_file_uploads_as_a_note_on_its_module(course, learner, hello):
    response = upload(learner, "notes.md", "# 梯度\r\nclip at 1.0\n".encode(), module="01-hello")
    assert response.status_code == 201, response.content
    assert response.json()["text"] == "# 梯度\nclip at 1.0\n" and response.json()["module"] == "01-hello"


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("photo.png", b"\x89PNG\r\n", "file_type"),
        ("notes.md", b"\x89PNG\r\n\x1a\n\x00\x00", "binary_file"),
        ("notes.txt", "é".encode("latin-1"), "binary_file"),
        ("big.md", b"a" * (64 * 1024 + 1), "too_large"),
        ("empty.md", b"   \n", "text_invalid"),
    ],
)
def test_a_note_upload_that_is_not_small_text_gets_a_clear_error(course, learner, name, data, code):
    response = upload(learner, name, data)
    assert response.status_code == 400 and response.json()["code"] == code
    assert response.json()["detail"]


def test_a_note_upload_needs_a_file_and_a_known_module(course, learner, anonymous):
    assert learner.post(UPLOAD, {}).json()["code"] == "file_missing"
    assert upload(learner, "a.md", b"hi", module="nope").status_code == 404
    assert upload(anonymous, "a.md", b"hi").status_code == 403


def test_the_bell_and_the_dashboards_milestones_follow_their_schemas(course, learner, hello, pass_module):
    pass_module(learner, hello)
    learner.post_json("/api/activity/heartbeat/", {})
    conforms("milestones.schema.json#/$defs/notifications", learner.get_json(NOTIFICATIONS).json())
    conforms(
        "milestones.schema.json#/$defs/heartbeat", learner.post_json("/api/activity/heartbeat/", {}).json()
    )
    conforms("page-dashboard.schema.json", page_data(learner.get("/")))


def test_certificate_codes_are_random_readable_groups():
    codes = {services.certificate_code() for _ in range(50)}
    assert len(codes) == 50
    assert all(re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", code) for code in codes)


def test_a_sync_with_nothing_new_reads_in_a_fixed_number_of_queries(
    course, learner, hello, pass_module, django_assert_num_queries
):
    pass_module(learner, hello)
    reflection_submit(user=learner.user, module=hello, answers=ANSWERS)
    # module states (3), instructor check (1), badge facts (3), routes (1), notified keys (1); nothing written
    with django_assert_num_queries(9):
        assert services.milestones_sync(user=learner.user) == 0
