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
        from grading import queues
        from grading.assemble import jobs

        queues.source_register("assemble", jobs.assemble_next)
