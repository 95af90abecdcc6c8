from django.db import models


class IdempotencyRecord(models.Model):
    """The first result of a request made with an idempotency key, replayed for a retry (DESIGN.md §3.4).

    `scope` is who sent it (user or API token) so one client's key never collides with another's;
    `request_hash` tells a true retry from a different request that reuses the key.
    """

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=128)
    endpoint = models.CharField(max_length=64)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "orders_idempotencyrecord"  # the table it had before it moved to this app
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_unique")]

    def __str__(self):
        return f"{self.scope}:{self.key}"
