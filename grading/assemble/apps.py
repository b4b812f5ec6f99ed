"""The assemble app: "assemble your own nanochat" — a learner trains a stage of the model with their own passing
files (on the grading lanes, in a sandbox) and chats with it next to the reference. It sits on grading (the
lanes, the sandboxed engine, the websocket group) and reads modules (who completed what)."""

from django.apps import AppConfig


class AssembleConfig(AppConfig):
    name = "grading.assemble"
    label = "assemble"
    verbose_name = "assemble"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.models import User
        from django.db.models.signals import post_delete

        from grading import queues
        from grading.assemble import jobs, services

        queues.source_register("assemble", jobs.assemble_next)
        queues.source_register("assemble-reply", jobs.assemble_reply_next)
        # an account's rows go by ``on_delete=CASCADE``; its models on disk go with them, however it is deleted
        # (the admin, a shell, a cascade), once the deletion commits
        post_delete.connect(services.on_user_deleted, sender=User, dispatch_uid="assemble-forget-user")
