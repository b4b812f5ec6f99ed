"""Submissions as the grading queue: each one's lane, a superseded state, and the message that claimed its run.

Existing submissions get their module's lane (``modules.spec.lane_of`` on the module as synced), so the round-robin
between learners sees who was served last in each lane from the start.
"""

import django.db.models.deletion
from django.db import migrations, models

from modules.spec import lane_of


def fill_lanes(apps, schema_editor):
    Module = apps.get_model("modules", "Module")
    Submission = apps.get_model("grading", "Submission")
    for module_id, metadata in Module.objects.values_list("pk", "metadata"):
        lane = lane_of(metadata)
        if lane != "short":
            Submission.objects.filter(module_id=module_id).update(lane=lane)


class Migration(migrations.Migration):
    dependencies = [
        ("grading", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="claim",
            field=models.CharField(
                blank=True,
                default="",
                help_text="the queue message that started the current run",
                max_length=64,
            ),
        ),
        migrations.AddField(
            model_name="submission",
            name="lane",
            field=models.CharField(
                choices=[("short", "short"), ("long", "long"), ("gpu", "gpu")], default="short", max_length=8
            ),
        ),
        migrations.AddField(
            model_name="submission",
            name="superseded_by",
            field=models.ForeignKey(
                blank=True,
                help_text="the newer run",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="grading.submission",
            ),
        ),
        migrations.AlterField(
            model_name="submission",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "queued"),
                    ("running", "running"),
                    ("done", "done"),
                    ("superseded", "superseded"),
                ],
                db_index=True,
                default="queued",
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="submission",
            index=models.Index(fields=["lane", "status", "created_at"], name="submission_lane_queue"),
        ),
        migrations.AddIndex(
            model_name="submission",
            index=models.Index(fields=["user", "lane", "started_at"], name="submission_user_lane_started"),
        ),
        migrations.RunPython(fill_lanes, migrations.RunPython.noop),
    ]
