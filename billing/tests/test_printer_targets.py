"""Where a printer may point (billing.printer_targets): host:port on the allowed networks, away from the app's own
service ports and link-local/metadata addresses; device paths only under the allowed directories. Checked when a
manager saves a printer and again when a job is sent."""

import pytest
from django.test import override_settings

from billing import printing
from billing.models import Printer, PrintJob
from billing.tests.factories import PrinterFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/billing/printer/add/"


@pytest.fixture
def browser(client, manager):
    client.force_login(manager)
    return client


def _form(**fields) -> dict:
    return {
        "name": "Front till",
        "connection": "network",
        "host": "",
        "port": "9100",
        "device_path": "",
        "paper_width_mm": "80",
        "columns": "48",
        "profile": "default",
        "code_page": "",
        "active": "on",
        **fields,
    }


def _refused(response, field: str) -> str:
    assert response.status_code == 200, "the form is shown again"
    assert not Printer.objects.exists()
    return " ".join(response.context["adminform"].form.errors.get(field, []))


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("169.254.169.254", "80"),  # the cloud metadata service
        ("169.254.169.254", "9100"),
        ("fe80::1", "9100"),  # link-local
        ("8.8.8.8", "9100"),  # a public address
        ("0.0.0.0", "9100"),
        ("::ffff:169.254.169.254", "9100"),  # the metadata service as an IPv4-mapped address
    ],
)
def test_a_network_printer_outside_the_allowed_networks_is_refused(browser, host, port):
    assert "not allowed" in _refused(browser.post(ADD, _form(host=host, port=port)), "host")


@pytest.mark.parametrize("port", ["6379", "5432", "8000", "22"])
def test_a_network_printer_on_one_of_the_apps_own_service_ports_is_refused(browser, port):
    assert f"Port {port} is not allowed" in _refused(browser.post(ADD, _form(host="127.0.0.1", port=port)), "port")


def test_a_port_outside_the_tcp_range_is_refused(browser):
    assert _refused(browser.post(ADD, _form(host="192.168.1.50", port="70000")), "port")


def test_a_host_that_does_not_resolve_is_refused(browser):
    assert "resolve" in _refused(browser.post(ADD, _form(host="printer.invalid")), "host")


@pytest.mark.parametrize("host", ["192.168.1.50", "10.0.4.20", "172.20.0.9", "127.0.0.1", "localhost"])
def test_a_network_printer_on_the_shop_network_or_loopback_is_saved(browser, host):
    response = browser.post(ADD, _form(host=host))

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Printer.objects.get().host == host


@override_settings(PRINTER_ALLOWED_NETWORKS=["192.168.7.0/24"], PRINTER_BLOCKED_PORTS=[])
def test_the_allowed_networks_and_blocked_ports_are_settings(browser):
    assert "not allowed" in _refused(browser.post(ADD, _form(host="10.0.4.20")), "host")
    assert browser.post(ADD, _form(host="192.168.7.3", port="8000")).status_code == 302


@pytest.fixture
def usb(tmp_path, settings):
    device_dir = tmp_path / "usb"
    device_dir.mkdir()
    settings.PRINTER_DEVICE_DIRS = [str(device_dir)]
    return device_dir


def test_a_device_path_under_the_allowed_directory_is_saved(browser, usb):
    response = browser.post(ADD, _form(connection="file", device_path=str(usb / "lp0")))

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Printer.objects.get().device_path == str(usb / "lp0")


def test_device_paths_outside_the_allowed_directory_are_refused(browser, usb, tmp_path):
    (tmp_path / "secret").write_text("keep out")
    (usb / "lp9").symlink_to(tmp_path / "secret")
    for path in ("/etc/passwd", f"{usb}/../secret", str(usb / "lp9"), "lp0", str(usb)):
        response = browser.post(ADD, _form(connection="file", device_path=path))
        assert _refused(response, "device_path"), path


# --- checked again when a job is sent -------------------------------------------------------------------------


def test_a_job_for_a_network_target_saved_around_the_checks_fails_without_connecting(sell):
    printer = PrinterFactory(host="169.254.169.254", port=80)  # written straight to the table, no clean()
    job = sell(printer).print_jobs.get()

    assert printing.deliver_print_job(job.pk) == PrintJob.Status.FAILED

    job.refresh_from_db()
    assert "not allowed" in job.last_error
    assert job.attempts == 1


def test_a_job_for_a_device_path_outside_the_allowed_directory_is_not_written(sell, usb, tmp_path):
    outside = tmp_path / "outside.bin"
    printer = PrinterFactory(connection=Printer.Connection.FILE, device_path=str(outside))
    job = sell(printer).print_jobs.get()

    assert printing.deliver_print_job(job.pk) == PrintJob.Status.FAILED

    job.refresh_from_db()
    assert "not allowed" in job.last_error
    assert not outside.exists()
