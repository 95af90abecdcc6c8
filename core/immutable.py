"""Append-only rows: saved once, never edited or deleted through the ORM's normal paths.

Corrections are new rows (DESIGN.md §3.2 and §3.6). Bulk `update()`/`delete()` on the queryset are refused too;
only migrations and the raw SQL of a restore can change such a table.
"""

from django.db import models


class ImmutableRowError(Exception):
    pass


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableRowError(f"{self.model.__name__} rows are append-only; write a new row instead.")

    def delete(self):
        raise ImmutableRowError(f"{self.model.__name__} rows are append-only; they cannot be deleted.")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRowError(f"{type(self).__name__} {self.pk} is append-only; write a new row instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRowError(f"{type(self).__name__} rows are append-only; they cannot be deleted.")
