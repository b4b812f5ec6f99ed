"""The discussions tables, and the threads of a database where they still live in the modules app's tables.

Threads and posts were tables of the modules app (``modules_thread``, ``modules_post``), which made modules
depend on grading. A database that has them gets their rows copied here, ids kept (so links such as
``/modules/<slug>/#thread-<id>`` still work), and then the old tables are dropped. The index and constraint names
differ from the old ones, so both sets of tables can exist while the rows are copied.
"""

import django.db.models.deletion
from django.conf import settings
from django.core.management.color import no_style
from django.db import migrations, models

#: (old table, new table, columns both share), in the order rows must be copied.
LEGACY_TABLES = (
    (
        "modules_thread",
        "discussions_thread",
        (
            "id",
            "module_id",
            "author_id",
            "title",
            "kind",
            "submission_id",
            "status",
            "created_at",
            "updated_at",
        ),
    ),
    ("modules_post", "discussions_post", ("id", "thread_id", "author_id", "body", "is_mentor", "created_at")),
)


def copy_legacy_threads(apps, schema_editor):  # RunPython signature
    """Copy the rows of ``modules_thread`` / ``modules_post`` when the database has them, then drop them."""
    connection = schema_editor.connection
    existing = set(connection.introspection.table_names())
    present = [entry for entry in LEGACY_TABLES if entry[0] in existing]
    if not present:
        return
    quote = schema_editor.quote_name
    with connection.cursor() as cursor:
        for old, new, columns in present:
            names = ", ".join(quote(column) for column in columns)
            cursor.execute(f"INSERT INTO {quote(new)} ({names}) SELECT {names} FROM {quote(old)}")
        # Rows came with their ids: move the id sequences past them (PostgreSQL; a no-op on SQLite).
        models_copied = [apps.get_model("discussions", "Thread"), apps.get_model("discussions", "Post")]
        for statement in connection.ops.sequence_reset_sql(no_style(), models_copied):
            cursor.execute(statement)
        for old, _new, _columns in reversed(present):
            cursor.execute(f"DROP TABLE {quote(old)}")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("grading", "0001_initial"),
        ("modules", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Thread",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("title", models.CharField(max_length=200)),
                (
                    "kind",
                    models.CharField(
                        choices=[("question", "question"), ("review", "review")], db_index=True, max_length=16
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("open", "open"), ("resolved", "resolved")],
                        db_index=True,
                        default="open",
                        max_length=16,
                    ),
                ),
                ("created_at", models.DateTimeField(db_index=True)),
                ("updated_at", models.DateTimeField()),
                (
                    "author",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="threads",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "module",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="threads",
                        to="modules.module",
                    ),
                ),
                (
                    "submission",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="review_threads",
                        to="grading.submission",
                    ),
                ),
            ],
            options={
                "ordering": ["-updated_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="Post",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("body", models.TextField()),
                ("is_mentor", models.BooleanField(default=False)),
                ("created_at", models.DateTimeField(db_index=True)),
                (
                    "author",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="posts",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "thread",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="posts",
                        to="discussions.thread",
                    ),
                ),
            ],
            options={
                "ordering": ["created_at", "id"],
            },
        ),
        migrations.AddIndex(
            model_name="thread",
            index=models.Index(
                fields=["module", "kind", "-updated_at"], name="discussions_thread_module_kind"
            ),
        ),
        migrations.AddConstraint(
            model_name="thread",
            constraint=models.UniqueConstraint(
                fields=("submission",), name="discussions_one_review_per_submission"
            ),
        ),
        migrations.AddConstraint(
            model_name="thread",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "review"), ("submission__isnull", False)),
                    models.Q(("kind", "question"), ("submission__isnull", True)),
                    _connector="OR",
                ),
                name="discussions_review_has_submission",
            ),
        ),
        migrations.RunPython(copy_legacy_threads, migrations.RunPython.noop, elidable=True),
    ]
