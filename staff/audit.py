"""The audit trail's one writer: who did what privileged thing, approved by whom, where, to what, and why."""

from decimal import Decimal

from staff.models import AuditEvent


def audit(
    action: str,
    *,
    actor=None,
    approver=None,
    location=None,
    location_id: int | None = None,
    obj=None,
    object_type: str = "",
    object_id="",
    reason: str = "",
    data: dict | None = None,
    **details,
) -> AuditEvent:
    """Write one AuditEvent in the caller's transaction (so it stands or falls with the change it records).

    The object is `obj` (its model label and pk) or `object_type`/`object_id` for what is not a row of ours (a
    login, a cash session named by id). `data` and `details` are kept as JSON; Decimals as strings. `location` is a
    Location or, as `location_id`, its id. The reason is cut to the column's 200 characters.
    """
    values = {**(data or {}), **details}
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        approver=approver,
        location_id=location.pk if location is not None else location_id,
        object_type=obj._meta.label_lower if obj is not None else object_type,
        object_id=str(obj.pk) if obj is not None else str(object_id),
        reason=(reason or "")[:200],
        data={key: str(value) if isinstance(value, Decimal) else value for key, value in values.items()},
    )
