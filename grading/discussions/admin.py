"""Admin for instructors: threads (with their posts inline) and posts."""

from django.contrib import admin

from grading.discussions.models import Post, Thread


class PostInline(admin.TabularInline):
    model = Post
    fields = ("author", "is_mentor", "body", "created_at")
    readonly_fields = ("author", "is_mentor", "body", "created_at")
    extra = 0
    can_delete = False


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    """Mentors find open reviews oldest first; status is the one field they change here."""

    list_display = ("title", "kind", "status", "module", "author", "submission", "created_at", "updated_at")
    list_filter = ("kind", "status", "module")
    search_fields = ("title", "author__username")
    list_select_related = ("module", "author")
    ordering = ("status", "created_at")
    readonly_fields = ("module", "author", "kind", "submission", "title", "created_at", "updated_at")
    inlines = (PostInline,)

    def get_queryset(self, request):  # admin signature
        return super().get_queryset(request).defer("module__payload")


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ("id", "thread", "author", "is_mentor", "created_at")
    list_filter = ("is_mentor",)
    search_fields = ("body", "author__username")
    list_select_related = ("thread", "author")
    readonly_fields = ("thread", "author", "is_mentor", "created_at")
