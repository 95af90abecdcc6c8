"""Receipts by e-mail against a real SMTP server (aiosmtpd): what arrives, what a dead or refusing server does to
the outbox row, and the screens and API that ask for one. The task itself runs on a real worker in
test_receipt_email_worker.py; here the delivery function is called as the task calls it."""

from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from billing import receipt_mail
from billing.models import ReceiptEmail
from billing.receipt_mail import RetryLater, deliver_receipt_email, request_receipt_email
from billing.receipts import receipt_url
from billing.services import sell
from billing.tests.factories import CustomerFactory
from billing.tests.smtp_server import SmtpServer, spare_port
from core.errors import Conflict, DomainError, NotFound, PermissionDenied
from inventory.tests.factories import LocationFactory, ProductFactory
from orders.models import Order
from orders.pricing import TenderInput
from orders.tests.helpers import line, open_register
from orders.tests.pos_helpers import terminal
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db

Status = ReceiptEmail.Status


@pytest.fixture
def smtp():
    servers = []

    def start(**kwargs) -> SmtpServer:
        server = SmtpServer(**kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def receipt(location, cashier):
    tea = ProductFactory(name="Green tea", price=Decimal("3.20"), tracked=False)
    cake = ProductFactory(name="Carrot cake", price=Decimal("4.90"), tracked=False)
    till = open_register(location)
    sale = sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(tea, "2"), line(cake)],
        tenders=[TenderInput("cash", tendered=Decimal("20.00"))],
    )
    return sale.receipt


def _queued(receipt, user, to="ann@example.com", *, capture) -> ReceiptEmail:
    with capture(execute=False):  # the hand-over to Celery is not run: the tests deliver it themselves
        return request_receipt_email(receipt_id=receipt.pk, to=to, user=user)


def test_a_receipt_email_reaches_a_real_smtp_server_with_its_lines_total_and_link(
    receipt, cashier, smtp, django_capture_on_commit_callbacks
):
    server = smtp()
    email = _queued(receipt, cashier, capture=django_capture_on_commit_callbacks)

    with override_settings(**server.settings(), DEFAULT_FROM_EMAIL="Main Street <receipts@shop.example.com>"):
        outcome = deliver_receipt_email(email.pk)

    assert outcome == Status.SENT
    ((sender, to, message),) = server.messages
    assert (sender, to) == ("receipts@shop.example.com", ["ann@example.com"])
    assert message["Subject"] == f"Your receipt {receipt.number:06d} from Main Street"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "2 x Green tea  6.40" in text and "Carrot cake  4.90" in text
    assert "TOTAL  EUR 11.30" in text and "Change  8.70" in text
    assert receipt_url(receipt) in text and receipt_url(receipt) in html
    assert "11.30" in html and "Carrot cake" in html
    email.refresh_from_db()
    assert (email.status, email.attempts, email.sent_at is not None) == (Status.SENT, 1, True)


def test_asking_for_an_email_writes_a_queued_row_and_hands_it_over_after_commit(
    receipt, cashier, django_capture_on_commit_callbacks, monkeypatch
):
    handed = []
    monkeypatch.setattr(receipt_mail, "_enqueue", handed.append)

    with django_capture_on_commit_callbacks(execute=True):
        email = request_receipt_email(receipt_id=receipt.pk, to=" ann@example.com ", user=cashier)
        assert handed == []  # not before the commit

    assert handed == [email.pk]
    assert (email.status, email.to_address, email.location_id) == (
        Status.QUEUED,
        "ann@example.com",
        receipt.register.location_id,
    )
    assert AuditEvent.objects.filter(action="receipt.email", object_id=str(receipt.pk)).exists()


def test_a_task_delivered_twice_sends_the_email_once(receipt, cashier, smtp, django_capture_on_commit_callbacks):
    server = smtp()
    email = _queued(receipt, cashier, capture=django_capture_on_commit_callbacks)

    with override_settings(**server.settings()):
        first, second = deliver_receipt_email(email.pk), deliver_receipt_email(email.pk)

    assert (first, second) == (Status.SENT, "skipped")
    assert len(server.messages) == 1


@override_settings(
    EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    EMAIL_HOST="127.0.0.1",
    RECEIPT_EMAIL_MAX_ATTEMPTS=3,
    RECEIPT_EMAIL_RETRY_BACKOFF=30,
    RECEIPT_EMAIL_RETRY_BACKOFF_MAX=600,
)
def test_with_the_mail_server_down_the_email_is_retried_with_backoff_then_failed(
    receipt, cashier, django_capture_on_commit_callbacks
):
    email = _queued(receipt, cashier, capture=django_capture_on_commit_callbacks)
    countdowns = []

    with override_settings(EMAIL_PORT=spare_port()):
        for _ in range(2):
            with pytest.raises(RetryLater) as retry:
                deliver_receipt_email(email.pk)
            countdowns.append(retry.value.countdown)
            assert ReceiptEmail.objects.get(pk=email.pk).status == Status.QUEUED
        last = deliver_receipt_email(email.pk)

    email.refresh_from_db()
    assert countdowns == [30, 60]
    assert (last, email.status, email.attempts) == (Status.FAILED, Status.FAILED, 3)
    assert "ConnectionRefusedError" in email.last_error and "after 3 attempts" in email.last_error
    assert list(receipt_mail.failed_emails(receipt.register.location)) == [email]


def test_a_permanent_refusal_fails_the_email_at_once(receipt, cashier, smtp, django_capture_on_commit_callbacks):
    server = smtp(refuse="550 5.1.1 No such mailbox")
    email = _queued(receipt, cashier, capture=django_capture_on_commit_callbacks)

    with override_settings(**server.settings()):
        outcome = deliver_receipt_email(email.pk)

    email.refresh_from_db()
    assert (outcome, email.status, email.attempts) == (Status.FAILED, Status.FAILED, 1)
    assert "No such mailbox" in email.last_error


def test_a_try_later_reply_is_retried(receipt, cashier, smtp, django_capture_on_commit_callbacks):
    server = smtp(refuse="451 4.3.0 Mailbox busy, try later")
    email = _queued(receipt, cashier, capture=django_capture_on_commit_callbacks)

    with override_settings(**server.settings()), pytest.raises(RetryLater):
        deliver_receipt_email(email.pk)

    assert ReceiptEmail.objects.get(pk=email.pk).status == Status.QUEUED


def test_a_failed_email_can_be_sent_again_and_then_arrives(receipt, cashier, smtp, django_capture_on_commit_callbacks):
    email = _queued(receipt, cashier, capture=django_capture_on_commit_callbacks)
    ReceiptEmail.objects.filter(pk=email.pk).update(status=Status.FAILED, attempts=5, last_error="refused")
    server = smtp()

    with django_capture_on_commit_callbacks(execute=False):
        again = receipt_mail.resend_receipt_email(email.pk, cashier)
    with override_settings(**server.settings()):
        outcome = deliver_receipt_email(email.pk)

    assert (again.status, again.attempts) == (Status.QUEUED, 0)
    assert outcome == Status.SENT and len(server.messages) == 1


def test_only_a_failed_email_can_be_sent_again(receipt, cashier, django_capture_on_commit_callbacks):
    email = _queued(receipt, cashier, capture=django_capture_on_commit_callbacks)

    with pytest.raises(Conflict) as refused:
        receipt_mail.resend_receipt_email(email.pk, cashier)

    assert refused.value.code == "email_not_failed"


def test_a_dismissed_failure_leaves_the_problem_list(receipt, cashier, django_capture_on_commit_callbacks):
    email = _queued(receipt, cashier, capture=django_capture_on_commit_callbacks)
    ReceiptEmail.objects.filter(pk=email.pk).update(status=Status.FAILED)

    receipt_mail.dismiss_receipt_email(email.pk, cashier)

    assert list(receipt_mail.failed_emails(receipt.register.location)) == []


@pytest.mark.parametrize(
    "address", ["", "not-an-address", "ann@example.com\r\nBcc: x@example.com", "a" * 250 + "@b.co"]
)
def test_a_bad_address_is_refused_and_nothing_is_queued(receipt, cashier, address):
    with pytest.raises(DomainError) as refused:
        request_receipt_email(receipt_id=receipt.pk, to=address, user=cashier)

    assert "to" in refused.value.fields
    assert not ReceiptEmail.objects.exists()


def test_one_receipt_can_be_emailed_only_so_many_times(receipt, cashier, django_capture_on_commit_callbacks):
    for n in range(receipt_mail.MAX_PER_RECEIPT):
        _queued(receipt, cashier, f"guest{n}@example.com", capture=django_capture_on_commit_callbacks)

    with pytest.raises(Conflict) as refused:
        request_receipt_email(receipt_id=receipt.pk, to="one.more@example.com", user=cashier)

    assert refused.value.code == "too_many_emails"


def test_staff_of_another_store_cannot_email_its_receipts(receipt):
    from conftest import _staff

    elsewhere = _staff("Cashier", LocationFactory(code="other"), "elsewhere")

    with pytest.raises(PermissionDenied):
        request_receipt_email(receipt_id=receipt.pk, to="ann@example.com", user=elsewhere)


def test_an_unknown_receipt_cannot_be_emailed(cashier):
    with pytest.raises(NotFound):
        request_receipt_email(receipt_id=999999, to="ann@example.com", user=cashier)


def test_the_sweeper_hands_over_rows_left_queued_and_stuck_sending(
    receipt, cashier, django_capture_on_commit_callbacks, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    left = _queued(receipt, cashier, capture=django_capture_on_commit_callbacks)
    stuck = _queued(receipt, cashier, "bob@example.com", capture=django_capture_on_commit_callbacks)
    fresh = _queued(receipt, cashier, "cy@example.com", capture=django_capture_on_commit_callbacks)
    long_ago = timezone.now() - timedelta(hours=1)
    ReceiptEmail.objects.filter(pk=left.pk).update(updated_at=long_ago)
    ReceiptEmail.objects.filter(pk=stuck.pk).update(status=Status.SENDING, sending_at=long_ago, updated_at=long_ago)
    handed = []
    monkeypatch.setattr(receipt_mail, "_enqueue", lambda pk: handed.append(pk) or True)

    receipt_mail.sweep_receipt_emails(now=timezone.now() + timedelta(minutes=1))

    assert sorted(handed) == sorted([left.pk, stuck.pk])
    assert fresh.pk not in handed
    assert ReceiptEmail.objects.get(pk=stuck.pk).status == Status.QUEUED


# --- The POS receipt screen and the banner --------------------------------------------------------------------


def test_the_receipt_screen_prefills_the_address_of_the_orders_customer(receipt, cashier):
    customer = CustomerFactory(email="ann.lee@example.com")
    Order.objects.filter(pk=receipt.order_id).update(customer=customer)
    client = terminal(cashier)

    html = client.get(reverse("billing:receipt", args=[receipt.pk])).content.decode()

    assert 'name="to" type="email"' in html and 'value="ann.lee@example.com"' in html


def test_emailing_from_the_receipt_screen_queues_the_email_and_says_so(
    receipt, cashier, django_capture_on_commit_callbacks
):
    client = terminal(cashier)

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("billing:receipt_email", args=[receipt.pk]), {"to": "ann@example.com"})
    page = client.get(response["Location"]).content.decode()

    assert ReceiptEmail.objects.get().to_address == "ann@example.com"
    assert "will be e-mailed" in page and 'data-email-status="queued"' in page


def test_a_bad_address_on_the_receipt_screen_is_refused_and_kept(receipt, cashier):
    client = terminal(cashier)

    response = client.post(reverse("billing:receipt_email", args=[receipt.pk]), {"to": "ann@example"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "data-email-error" in html and 'value="ann@example"' in html
    assert not ReceiptEmail.objects.exists()


def test_a_failed_email_shows_on_the_problem_banner_with_send_again(
    receipt, cashier, manager, django_capture_on_commit_callbacks
):
    email = _queued(receipt, cashier, capture=django_capture_on_commit_callbacks)
    ReceiptEmail.objects.filter(pk=email.pk).update(status=Status.FAILED, last_error="ConnectionRefusedError")
    client = terminal(manager)

    banner = client.get(reverse("billing:print_problems")).content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        after = client.post(reverse("billing:receipt_email_resend", args=[email.pk]), headers={"HX-Request": "true"})

    assert "ann@example.com was not sent" in banner and "Send again" in banner
    assert "was not sent" not in after.content.decode()
    assert ReceiptEmail.objects.get(pk=email.pk).status == Status.QUEUED


def test_the_admin_lists_receipt_emails_with_their_status(
    receipt, cashier, manager, django_capture_on_commit_callbacks
):
    email = _queued(receipt, cashier, capture=django_capture_on_commit_callbacks)
    ReceiptEmail.objects.filter(pk=email.pk).update(status=Status.FAILED, last_error="Connection refused")
    manager.is_staff = True
    manager.save()
    client = terminal(manager)

    html = client.get(reverse("admin:billing_receiptemail_changelist") + "?status__exact=failed").content.decode()

    assert "ann@example.com" in html and "Connection refused" in html


def test_a_manager_sends_failed_emails_again_from_the_admin(
    receipt, cashier, manager, django_capture_on_commit_callbacks
):
    email = _queued(receipt, cashier, capture=django_capture_on_commit_callbacks)
    ReceiptEmail.objects.filter(pk=email.pk).update(status=Status.FAILED, attempts=5)
    manager.is_staff = True
    manager.save()
    client = terminal(manager)

    with django_capture_on_commit_callbacks(execute=False):
        client.post(
            reverse("admin:billing_receiptemail_changelist"),
            {"action": "resend", "_selected_action": [email.pk]},
        )

    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.QUEUED, 0)


# --- API ------------------------------------------------------------------------------------------------------


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_emails_a_receipt_and_answers_202_with_the_row(receipt, cashier, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = _api(cashier).post(f"/api/v1/receipts/{receipt.pk}/email/", {"to": "ann@example.com"}, format="json")

    assert response.status_code == 202
    assert response.json()["status"] == "queued" and response.json()["to_address"] == "ann@example.com"


def test_the_api_refuses_a_bad_address_with_the_field(receipt, cashier):
    response = _api(cashier).post(f"/api/v1/receipts/{receipt.pk}/email/", {"to": "nope"}, format="json")

    assert response.status_code == 400
    assert "to" in response.json()["fields"]


def test_the_api_lists_failed_emails_and_sends_one_again(receipt, cashier, django_capture_on_commit_callbacks):
    email = _queued(receipt, cashier, capture=django_capture_on_commit_callbacks)
    ReceiptEmail.objects.filter(pk=email.pk).update(status=Status.FAILED)
    api = _api(cashier)

    listed = api.get("/api/v1/receipt-emails/?status=failed").json()
    with django_capture_on_commit_callbacks(execute=False):
        resent = api.post(f"/api/v1/receipt-emails/{email.pk}/resend/")

    assert [row["id"] for row in listed["results"]] == [email.pk]
    assert resent.status_code == 202 and resent.json()["status"] == "queued"


def test_a_receipts_api_answer_carries_its_public_link(receipt, cashier):
    body = _api(cashier).get(f"/api/v1/receipts/{receipt.pk}/").json()

    assert body["url"] == receipt_url(receipt) and body["url"].endswith(f"/{receipt.public_token}/")
