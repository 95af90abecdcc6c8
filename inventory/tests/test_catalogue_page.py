"""The catalogue page: a file is checked by a task (the page follows its progress), imported only when clean and
only once, and the catalogue downloads in the columns it reads."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inventory import imports
from inventory.models import CatalogueImport, Product, StockMove
from inventory.tasks import run_catalogue_import
from inventory.tests.factories import TaxRateFactory

pytestmark = pytest.mark.django_db

GOOD = "sku,name,price,tax_rate,stock:main\nA1,Apple juice,2.50,Standard,12\nA2,Oat milk,1.90,Standard,\n"


@pytest.fixture
def manager_client(client, manager):
    TaxRateFactory(name="Standard", percent=Decimal("20"))
    client.force_login(manager)
    return client


def upload(client, text: str, name: str = "catalogue.csv"):
    return client.post(reverse("inventory:catalogue"), {"file": SimpleUploadedFile(name, text.encode())})


def test_an_uploaded_file_is_checked_then_imported_once(manager_client, location):
    response = upload(manager_client, GOOD)
    run = CatalogueImport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("inventory:catalogue-run", args=[run.pk])
    page = manager_client.get(response["Location"]).content.decode()
    assert 'data-status="checking"' in page and "every 1s" in page  # the page polls until the check is done

    assert run_catalogue_import(run.pk) == "checked"  # what the worker does
    page = manager_client.get(response["Location"]).content.decode()
    assert 'data-figure="created">2<' in page and "Import 2 rows" in page
    assert Product.objects.count() == 0

    import_url = reverse("inventory:catalogue-import", args=[run.pk])
    assert manager_client.post(import_url).status_code == 302
    assert manager_client.post(import_url).status_code == 409  # a second click: already importing
    assert run_catalogue_import(run.pk) == "imported"
    assert run_catalogue_import(run.pk) == "imported"  # a task delivered twice does nothing more

    assert Product.objects.count() == 2 and StockMove.objects.count() == 1
    page = manager_client.get(response["Location"]).content.decode()
    assert 'data-status="imported"' in page


def test_a_file_with_bad_rows_lists_them_and_cannot_be_imported(manager_client, location):
    upload(manager_client, GOOD + "A3,,abc,Standard,\n")
    run = CatalogueImport.objects.get()

    assert run_catalogue_import(run.pk) == "invalid"
    page = manager_client.get(reverse("inventory:catalogue-run", args=[run.pk])).content.decode()
    assert '<tr data-line="4"><td class="num">4</td><td><code>name</code>' in page
    assert '<tr data-line="4"><td class="num">4</td><td><code>price</code>' in page
    assert "2 problems found" in page
    assert manager_client.post(reverse("inventory:catalogue-import", args=[run.pk])).status_code == 409
    assert Product.objects.count() == 0


def test_progress_is_shown_while_a_run_is_going(manager_client, location):
    upload(manager_client, GOOD)
    run = CatalogueImport.objects.get()
    imports._reporter(run)("checking", 5000, 20000)

    page = manager_client.get(reverse("inventory:catalogue-run", args=[run.pk])).content.decode()

    assert "5,000 of about 20,000 rows" in page and 'value="5000" max="20000"' in page


def test_a_file_that_is_not_utf8_is_refused_on_the_form(manager_client):
    response = manager_client.post(
        reverse("inventory:catalogue"), {"file": SimpleUploadedFile("c.csv", "Café".encode("latin-1"))}
    )

    assert response.status_code == 400
    assert 'data-field-error="file">The file is not UTF-8 text' in response.content.decode()
    assert not CatalogueImport.objects.exists()


def test_an_import_that_overflows_a_stock_level_fails_and_writes_nothing(manager_client, location, monkeypatch):
    upload(manager_client, GOOD)
    run = CatalogueImport.objects.get()
    run_catalogue_import(run.pk)
    imports.confirm_import(import_id=run.pk, user=None)

    def overflow(*args, **kwargs):
        raise imports.catalogue.DomainError("Too much stock.", code="too_large")

    monkeypatch.setattr(imports.catalogue.queries, "copy_rows", overflow)
    assert run_catalogue_import(run.pk) == "failed"

    run.refresh_from_db()
    assert run.status == "failed" and run.error == "Too much stock."
    assert Product.objects.count() == 0


def test_the_export_downloads_the_catalogue_in_the_import_columns(manager_client, location):
    upload(manager_client, GOOD)
    run = CatalogueImport.objects.get()
    run_catalogue_import(run.pk)
    imports.confirm_import(import_id=run.pk, user=None)
    run_catalogue_import(run.pk)

    response = manager_client.get(reverse("inventory:catalogue-export"))

    body = b"".join(response.streaming_content).decode()
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert body.splitlines() == [
        "sku,barcode,name,category,price,cost,tax_rate,kind,stock_policy,stock:main",
        "A1,,Apple juice,,2.50,0.00,Standard,goods,block,12",
        "A2,,Oat milk,,1.90,0.00,Standard,goods,block,",
    ]


def test_the_admin_product_list_links_to_the_catalogue_file_page(manager_client):
    page = manager_client.get(reverse("admin:inventory_product_changelist")).content.decode()

    assert f'href="{reverse("inventory:catalogue")}"' in page


def test_the_import_applies_the_file_to_the_catalogue_as_it_is_when_imported(manager_client, location):
    from inventory.tests.factories import ProductFactory

    upload(manager_client, GOOD)
    run = CatalogueImport.objects.get()
    run_catalogue_import(run.pk)
    imports.confirm_import(import_id=run.pk, user=None)
    ProductFactory(sku="A2", name="Added in the admin meanwhile")

    assert run_catalogue_import(run.pk) == "imported"
    assert Product.objects.get(sku="A2").name == "Oat milk"
    assert CatalogueImport.objects.get().result["updated"] == 1


def test_an_import_that_collides_with_a_write_made_meanwhile_fails_and_says_so(manager_client, location, monkeypatch):
    from django.db import IntegrityError

    upload(manager_client, GOOD)
    run = CatalogueImport.objects.get()
    run_catalogue_import(run.pk)
    imports.confirm_import(import_id=run.pk, user=None)

    def collide(*args, **kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(imports.catalogue.queries, "copy_rows", collide)
    assert run_catalogue_import(run.pk) == "failed"

    page = manager_client.get(reverse("inventory:catalogue-run", args=[run.pk])).content.decode()
    assert "The catalogue changed while this file was imported" in page
    assert Product.objects.count() == 0


def test_a_run_no_worker_has_started_says_so_after_a_minute(manager_client, location):
    from datetime import timedelta

    upload(manager_client, GOOD)
    run = CatalogueImport.objects.get()
    url = reverse("inventory:catalogue-run", args=[run.pk])
    assert "data-no-worker" not in manager_client.get(url).content.decode()

    CatalogueImport.objects.filter(pk=run.pk).update(created_at=run.created_at - timedelta(minutes=2))

    assert "data-no-worker" in manager_client.get(url).content.decode()
    run_catalogue_import(run.pk)
    imports.confirm_import(import_id=run.pk, user=None)
    assert "data-no-worker" not in manager_client.get(url).content.decode()  # just queued for the import
