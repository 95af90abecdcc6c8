"""Receipts by e-mail: an outbox, like the print outbox (billing.printing).

Staff ask for a receipt to be e-mailed (POS receipt screen, API); that writes a `ReceiptEmail` row and, once the
transaction commits, hands it to Celery. Nothing about the sale waits for the mail server.

A row moves queued → sending → sent | failed, each step a compare-and-swap on its status, so a task delivered twice
sends once. The mail server not answering (connection refused, a timeout, a dropped connection, a 4xx reply) puts
the row back to `queued` and the task retries with backoff; after RECEIPT_EMAIL_MAX_ATTEMPTS, or at once on a
permanent refusal (a 5xx reply: bad address, relaying denied, authentication), it is `failed`: shown on the POS
banner and in the admin until someone sends it again or dismisses it. A row left `queued` (the broker was down at
commit) or stuck `sending` (a worker died) is handed over again by the beat sweeper: an e-mail sent twice is a
nuisance, one never sent is a lost receipt.
"""

import logging
import smtplib
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import connections, transaction
from django.db.models import F, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing.models import Receipt, ReceiptEmail
from billing.receipts import receipt_context, receipt_document
from core.errors import Conflict, NotFound
from core.inputs import invalid
from staff.access import check_location
from staff.audit import audit

logger = logging.getLogger(__name__)

Status = ReceiptEmail.Status
MAX_PER_RECEIPT = 10  # e-mails one receipt may be sent as: enough for typos, too few to spam anyone with
STALE_SENDING_AFTER = timedelta(minutes=10)


class RetryLater(Exception):
    """The row went back to `queued` after a transient error; retry after `countdown` seconds."""

    def __init__(self, message: str, *, countdown: int):
        super().__init__(message)
        self.countdown = countdown


# --- Asking for one -----------------------------------------------------------------------------------------


def clean_address(value) -> str:
    """An e-mail address as typed (trimmed), or a DomainError on the `to` field."""
    if not isinstance(value, str):
        raise invalid("Enter an e-mail address.", "to")
    address = value.strip()
    if not address:
        raise invalid("Enter an e-mail address.", "to", code="required")
    if len(address) > 254 or any(ch in address for ch in "\r\n\x00"):
        raise invalid("Enter a valid e-mail address.", "to")
    try:
        validate_email(address)
    except ValidationError:
        raise invalid("Enter a valid e-mail address.", "to") from None
    return address


@transaction.atomic
def request_receipt_email(*, receipt_id: int, to: str, user) -> ReceiptEmail:
    """Queue a receipt to be e-mailed to `to`; the task is handed over once this transaction commits.

    Raises NotFound (no such receipt), PermissionDenied (not at the receipt's store), DomainError `invalid` on the
    `to` field, and Conflict `too_many_emails` after MAX_PER_RECEIPT requests for one receipt.
    """
    address = clean_address(to)
    # Locked (receipts are never updated, so this waits for nothing but another request for the same receipt):
    # two requests at once cannot both pass the count below.
    receipt = Receipt.objects.select_for_update(of=("self",)).select_related("register").filter(pk=receipt_id).first()
    if receipt is None:
        raise NotFound(f"No receipt {receipt_id}.")
    location_id = receipt.register.location_id
    check_location(user, location_id, message="You cannot e-mail receipts of this location.")
    if ReceiptEmail.objects.filter(receipt=receipt).count() >= MAX_PER_RECEIPT:
        raise Conflict(f"This receipt has been e-mailed {MAX_PER_RECEIPT} times already.", code="too_many_emails")
    email = ReceiptEmail.objects.create(receipt=receipt, location_id=location_id, to_address=address, created_by=user)
    audit("receipt.email", actor=user, location_id=location_id, obj=receipt, data={"email": email.pk})
    transaction.on_commit(lambda: _enqueue(email.pk))
    return email


def _enqueue(email_id: int) -> bool:
    from billing.tasks import send_receipt_email

    if send_receipt_email.app.conf.task_always_eager:
        # No broker (`make run`): one attempt in a thread, so a slow mail server never holds the response.
        threading.Thread(target=_send_in_thread, args=(email_id,), name="receipt-email", daemon=True).start()
        return True
    try:  # with the broker down the till must not wait: the sweeper hands the row over later
        send_receipt_email.apply_async((email_id,), retry_policy={"max_retries": 1, "interval_start": 0.2})
    except Exception:
        logger.warning("receipt e-mail %s left queued: could not hand it to a worker", email_id, exc_info=True)
        return False
    return True


def _send_in_thread(email_id: int) -> None:
    from billing.tasks import send_receipt_email

    try:
        send_receipt_email.apply((email_id,), throw=True)
    except Exception:
        logger.exception("receipt e-mail %s: sending it in the web process failed", email_id)
    finally:
        connections.close_all()


# --- Sending ------------------------------------------------------------------------------------------------


def build_message(email: ReceiptEmail) -> EmailMultiAlternatives:
    """The e-mail of a receipt: plain text and HTML, both with the lines, the total and the link to its page."""
    doc = receipt_document(email.receipt)
    context = receipt_context(doc)
    with translation.override(doc.language):  # in the store's language, as the paper receipt
        names = {"number": doc.number, "store": doc.store_name}
        if email.receipt.kind == email.receipt.Kind.REFUND:
            subject = _("Your refund %(number)s from %(store)s") % names
        else:
            subject = _("Your receipt %(number)s from %(store)s") % names
        message = EmailMultiAlternatives(
            subject=subject.replace("\n", " ")[:200],
            body=render_to_string("billing/email/receipt.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[email.to_address],
        )
        message.attach_alternative(render_to_string("billing/email/receipt.html", context), "text/html")
    return message


def is_transient(exc: BaseException) -> bool:
    """Whether another try may succeed: the server could not be reached or answered 4xx (try later)."""
    if isinstance(exc, smtplib.SMTPNotSupportedError):  # e.g. STARTTLS asked of a server without it
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, OSError)  # refused, unreachable, timed out, disconnected (smtplib's errors are OSErrors)


def retry_countdown(attempts: int) -> int:
    """Seconds before attempt `attempts + 1`: the backoff doubled each time, at most the maximum."""
    backoff = settings.RECEIPT_EMAIL_RETRY_BACKOFF * 2 ** max(attempts - 1, 0)
    return min(backoff, settings.RECEIPT_EMAIL_RETRY_BACKOFF_MAX)


def _finish(email: ReceiptEmail, status: str, *, error: str = "") -> bool:
    now = timezone.now()
    changes = {"status": status, "last_error": error[:2000], "updated_at": now}
    if status == Status.SENT:
        changes["sent_at"] = now
    return (
        ReceiptEmail.objects.filter(pk=email.pk, status=Status.SENDING, attempts=email.attempts).update(**changes) == 1
    )


def deliver_receipt_email(email_id: int, *, may_retry: bool = True) -> str:
    """Send one queued receipt e-mail; return its new status, or "skipped" if it was not `queued`.

    Any id may be passed any number of times: only a `queued` row is claimed. Raises RetryLater after a transient
    error when another attempt is allowed (the row is `queued` again); re-raises unexpected errors after marking
    the row `failed` (so they reach Sentry).
    """
    now = timezone.now()
    claimed = ReceiptEmail.objects.filter(pk=email_id, status=Status.QUEUED).update(
        status=Status.SENDING, sending_at=now, attempts=F("attempts") + 1, updated_at=now
    )
    if not claimed:
        return "skipped"
    email = ReceiptEmail.objects.select_related("receipt").get(pk=email_id)
    try:
        message = build_message(email)
        message.send()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if not is_transient(exc):
            _finish(email, Status.FAILED, error=error)
            if isinstance(exc, smtplib.SMTPException):
                logger.warning("receipt e-mail %s refused: %s", email.pk, error)
                return Status.FAILED
            raise
        if may_retry and email.attempts < settings.RECEIPT_EMAIL_MAX_ATTEMPTS:
            _finish(email, Status.QUEUED, error=error)
            raise RetryLater(error, countdown=retry_countdown(email.attempts)) from exc
        _finish(email, Status.FAILED, error=f"{error} (after {email.attempts} attempts)")
        logger.warning("receipt e-mail %s failed after %d attempts: %s", email.pk, email.attempts, error)
        return Status.FAILED
    _finish(email, Status.SENT)
    return Status.SENT


def sweep_receipt_emails(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Hand over again rows left `queued` (their task was lost) and rows stuck `sending` (their worker died);
    return their ids."""
    now = now or timezone.now()
    stuck = ReceiptEmail.objects.filter(status=Status.SENDING, sending_at__lt=now - STALE_SENDING_AFTER)
    revived = [
        pk
        for pk, attempts in stuck.values_list("pk", "attempts")[:limit]
        if ReceiptEmail.objects.filter(pk=pk, status=Status.SENDING, attempts=attempts).update(
            status=Status.QUEUED, last_error="The worker stopped while sending; sending it again.", updated_at=now
        )
    ]
    idle = timedelta(seconds=settings.RECEIPT_EMAIL_RETRY_BACKOFF_MAX + 60)
    left = list(
        ReceiptEmail.objects.filter(status=Status.QUEUED, updated_at__lt=now - idle)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    handed = []
    for pk in sorted({*revived, *left}):
        if not _enqueue(pk):  # the broker is down: the next sweep tries again
            break
        handed.append(pk)
    if handed:
        logger.warning("receipt e-mail sweeper: %d handed over again", len(handed))
    return handed


# --- For staff: the POS banner, the receipt screen, admin ----------------------------------------------------


def failed_emails(location) -> QuerySet[ReceiptEmail]:
    """Failed receipt e-mails at a location that nobody has sent again or dismissed, newest first."""
    return (
        ReceiptEmail.objects.filter(location=location, status=Status.FAILED, dismissed_at__isnull=True)
        .select_related("receipt")
        .order_by("-created_at", "-pk")
    )


def _email_for(email_id: int, user) -> ReceiptEmail:
    email = ReceiptEmail.objects.select_for_update().filter(pk=email_id).first()
    if email is None:
        raise NotFound(f"No receipt e-mail {email_id}.")
    check_location(user, email.location_id, message="You cannot act on receipt e-mails of this location.")
    return email


@transaction.atomic
def resend_receipt_email(email_id: int, user) -> ReceiptEmail:
    """Send a `failed` receipt e-mail again (its attempts start over). Raises NotFound, PermissionDenied and
    Conflict `email_not_failed` for any other status."""
    email = _email_for(email_id, user)
    if email.status != Status.FAILED:
        raise Conflict(
            f"Only a failed e-mail can be sent again; this one is {email.get_status_display().lower()}.",
            code="email_not_failed",
        )
    ReceiptEmail.objects.filter(pk=email.pk, status=Status.FAILED).update(
        status=Status.QUEUED, attempts=0, dismissed_at=None, dismissed_by=None, updated_at=timezone.now()
    )
    audit("receipt.email_resend", actor=user, location_id=email.location_id, obj=email.receipt)
    transaction.on_commit(lambda: _enqueue(email.pk))
    email.refresh_from_db()
    return email


@transaction.atomic
def dismiss_receipt_email(email_id: int, user) -> ReceiptEmail:
    """Take a failed receipt e-mail off the problem list without sending it. Raises NotFound, PermissionDenied and
    Conflict `email_not_failed`."""
    email = _email_for(email_id, user)
    if email.status != Status.FAILED:
        raise Conflict("Only a failed e-mail can be dismissed.", code="email_not_failed")
    now = timezone.now()
    ReceiptEmail.objects.filter(pk=email.pk, dismissed_at__isnull=True).update(
        dismissed_at=now, dismissed_by=user, updated_at=now
    )
    audit("receipt.email_dismiss", actor=user, location_id=email.location_id, obj=email.receipt)
    email.refresh_from_db()
    return email
