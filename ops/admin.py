from django.contrib import admin, messages

from ops.backups import services
from ops.models import BackupRecord, RestoreDrill


@admin.register(BackupRecord)
class BackupRecordAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "status", "started_at", "finished_at", "bytes", "verified_at", "offsite_copied_at"]
    list_filter = ["status", "kind", "engine", "encrypted"]
    search_fields = ["file", "sha256", "error"]
    date_hierarchy = "started_at"
    actions = ["verify_selected"]
    readonly_fields = [f.name for f in BackupRecord._meta.fields if f.name != "kind"]

    def has_add_permission(self, request):
        return False  # a backup is taken with `manage.py backup` or the "back up now" button, never typed in

    @admin.action(description="Verify selected backups (sha256 and archive listing)")
    def verify_selected(self, request, queryset):
        for record in queryset.filter(status=BackupRecord.Status.SUCCEEDED):
            result = services.verify_backup(record)
            if result.ok:
                self.message_user(request, f"Backup {record.name} verified.", messages.SUCCESS)
            else:
                self.message_user(request, f"Backup {record.name}: {'; '.join(result.problems)}", messages.ERROR)


@admin.register(RestoreDrill)
class RestoreDrillAdmin(admin.ModelAdmin):
    list_display = ["id", "backup", "result", "started_at", "duration_seconds", "target"]
    list_filter = ["result"]
    readonly_fields = [f.name for f in RestoreDrill._meta.fields]

    def has_add_permission(self, request):
        return False
