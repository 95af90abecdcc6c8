"""End to end: a sale commits, staff ask for its receipt by e-mail on the POS, the row goes through the real Redis
to a real Celery worker, which talks to a real SMTP server (aiosmtpd) — or to a port where none listens."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import Receipt, ReceiptEmail
from billing.tests.conftest import wait_for
from billing.tests.smtp_server import SmtpServer, spare_port
from orders.models import Order
from orders.tests.pos_helpers import terminal

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

Status = ReceiptEmail.Status


def _status(email_id: int) -> str:
    return ReceiptEmail.objects.values_list("status", flat=True).get(pk=email_id)


def _worker_mail_settings(port: int, **extra) -> dict:
    return {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": port,
        "EMAIL_TIMEOUT": 3,
        "PUBLIC_BASE_URL": "https://shop.example.com",
        **extra,
    }


def test_a_receipt_emailed_from_the_pos_reaches_the_smtp_server_through_the_worker(celery_worker, sell, cashier):
    server = SmtpServer().start()
    try:
        celery_worker(**_worker_mail_settings(server.port))
        receipt = sell(None)
        client = terminal(cashier)

        response = client.post(reverse("billing:receipt_email", args=[receipt.pk]), {"to": "ann@example.com"})
        email = ReceiptEmail.objects.get(receipt=receipt)
        wait_for(lambda: _status(email.pk) == Status.SENT, message="the e-mail to be sent")
    finally:
        server.stop()

    assert response.status_code == 302
    ((_, to, message),) = server.messages
    text = message.get_body(("plain",)).get_content()
    assert to == ["ann@example.com"]
    assert "2 x Crème brûlée  13.00" in text and "TOTAL  EUR 13.00" in text
    assert f"https://shop.example.com/receipts/{receipt.pk}/{receipt.public_token}/" in text


def test_with_the_mail_server_down_the_sale_stands_and_the_email_is_retried_then_failed_for_the_manager(
    celery_worker, sell, cashier, manager
):
    celery_worker(
        **_worker_mail_settings(
            spare_port(), RECEIPT_EMAIL_MAX_ATTEMPTS=3, RECEIPT_EMAIL_RETRY_BACKOFF=1, RECEIPT_EMAIL_RETRY_BACKOFF_MAX=1
        )
    )
    receipt = sell(None)

    response = terminal(cashier).post(reverse("billing:receipt_email", args=[receipt.pk]), {"to": "ann@example.com"})
    email = ReceiptEmail.objects.get(receipt=receipt)
    wait_for(lambda: _status(email.pk) == Status.FAILED, timeout=60, message="the e-mail to fail")

    assert response.status_code == 302
    email.refresh_from_db()
    assert email.attempts == 3 and "ConnectionRefusedError" in email.last_error
    order = Order.objects.get(pk=receipt.order_id)
    assert order.status == "paid" and order.payments.get().amount == Decimal("13.00")
    assert Receipt.objects.filter(pk=receipt.pk).exists()
    banner = terminal(manager).get(reverse("billing:print_problems")).content.decode()
    assert f"E-mail of receipt {receipt.number} to ann@example.com was not sent" in banner
