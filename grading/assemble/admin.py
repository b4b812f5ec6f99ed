from django.contrib import admin

from grading.assemble.models import AssembleRun


@admin.register(AssembleRun)
class AssembleRunAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "stage", "status", "lane", "progress", "wall_seconds", "created_at")
    list_filter = ("stage", "status", "lane")
    readonly_fields = ("files", "loss")
