"""The discussions migration keeps the threads of a database made when threads were tables of the modules app.

The test puts such a database together: discussions migrated back to zero, the old ``modules_thread`` /
``modules_post`` tables created as the modules migration that held them did (same fields, index and constraint
names), rows in them; then ``migrate`` runs and the threads must be served by the discussions API, ids kept.
"""

from __future__ import annotations

import django.db.models.deletion
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, migrations, models
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

#: The operations that created the tables in the modules app.
LEGACY_OPERATIONS = [
    migrations.CreateModel(
        name="Thread",
        fields=[
            (
                "id",
                models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
            ),
            ("title", models.CharField(max_length=200)),
            ("kind", models.CharField(db_index=True, max_length=16)),
            ("status", models.CharField(db_index=True, default="open", max_length=16)),
            ("created_at", models.DateTimeField(db_index=True)),
            ("updated_at", models.DateTimeField()),
            (
                "author",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="legacy_threads",
                    to=settings.AUTH_USER_MODEL,
                ),
            ),
            (
                "module",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="legacy_threads",
                    to="modules.module",
                ),
            ),
            (
                "submission",
                models.ForeignKey(
                    blank=True,
                    null=True,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="legacy_review_threads",
                    to="grading.submission",
                ),
            ),
        ],
    ),
    migrations.CreateModel(
        name="Post",
        fields=[
            (
                "id",
                models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
            ),
            ("body", models.TextField()),
            ("is_mentor", models.BooleanField(default=False)),
            ("created_at", models.DateTimeField(db_index=True)),
            (
                "author",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="legacy_posts",
                    to=settings.AUTH_USER_MODEL,
                ),
            ),
            (
                "thread",
                models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, related_name="posts", to="modules.thread"
                ),
            ),
        ],
    ),
    migrations.AddIndex(
        model_name="thread",
        index=models.Index(fields=["module", "kind", "-updated_at"], name="thread_module_kind"),
    ),
    migrations.AddConstraint(
        model_name="thread",
        constraint=models.UniqueConstraint(fields=("submission",), name="thread_one_review_per_submission"),
    ),
    migrations.AddConstraint(
        model_name="thread",
        constraint=models.CheckConstraint(
            condition=models.Q(kind="review", submission__isnull=False)
            | models.Q(kind="question", submission__isnull=True),
            name="thread_review_has_submission",
        ),
    ),
]


def create_legacy_tables():
    """The old tables, in a database where discussions is not migrated; returns the historical apps."""
    state = MigrationExecutor(connection).loader.project_state()
    for operation in LEGACY_OPERATIONS:
        after = state.clone()
        operation.state_forwards("modules", after)
        with connection.schema_editor() as editor:
            operation.database_forwards("modules", editor, state, after)
        state = after
    return state.apps


def test_migrating_moves_legacy_threads_to_discussions_with_their_ids(
    course, learner, other_learner, instructor, submit, hello
):
    attempt = submit(learner, hello)
    call_command("migrate", "discussions", "zero", verbosity=0)
    try:
        legacy = create_legacy_tables()
        Thread, Post = legacy.get_model("modules", "Thread"), legacy.get_model("modules", "Post")
        now = "2026-01-02T03:04:05+00:00"
        question = Thread.objects.create(
            id=41, module_id=hello.pk, author_id=learner.user.pk, title="Old question", kind="question",
            created_at=now, updated_at=now,
        )  # fmt: skip
        review = Thread.objects.create(
            id=42, module_id=hello.pk, author_id=learner.user.pk, title="Old review", kind="review",
            submission_id=attempt.pk, created_at=now, updated_at=now,
        )  # fmt: skip
        Post.objects.create(id=7, thread=question, author_id=learner.user.pk, body="why?", created_at=now)
        Post.objects.create(
            id=8, thread=question, author_id=other_learner.user.pk, body="because", created_at=now
        )
        Post.objects.create(id=9, thread=review, author_id=learner.user.pk, body="look", created_at=now)
    finally:
        call_command("migrate", verbosity=0)

    assert not {"modules_thread", "modules_post"} & set(connection.introspection.table_names())
    body = learner.get("/api/threads/41/").json()
    assert (body["title"], body["author"], body["kind"]) == ("Old question", "ada", "question")
    assert [(p["id"], p["author"], p["body_html"]) for p in body["posts"]] == [
        (7, "ada", "<p>why?</p>"),
        (8, "bo", "<p>because</p>"),
    ]
    assert instructor.get("/api/threads/42/").json()["submission"] == attempt.pk
    assert other_learner.get("/api/threads/42/").status_code == 404  # a review stays its author's
    asked = other_learner.post_json(
        "/api/modules/01-hello/threads/", {"kind": "question", "title": "New", "body": "hi"}
    )
    assert asked.status_code == 201 and asked.json()["id"] == 43  # numbering goes on after the copied rows
    assert asked.json()["posts"][0]["id"] == 10


def test_migrating_an_empty_database_creates_the_discussions_tables():
    assert {"discussions_thread", "discussions_post"} <= set(connection.introspection.table_names())
    assert not {"modules_thread", "modules_post"} & set(connection.introspection.table_names())
