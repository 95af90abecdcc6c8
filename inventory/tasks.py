"""Celery tasks of the inventory app: thin wrappers around services."""

import logging

from celery import shared_task
from django.db import OperationalError

from inventory import services

logger = logging.getLogger(__name__)


@shared_task(
    name="inventory.check_low_stock",
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def check_low_stock() -> int:
    """The daily low-stock list: records today's alerts per location and notifies about new ones (idempotent)."""
    found = services.record_low_stock_alerts()
    for location, alerts in found.items():
        logger.info("low stock at %s: %d product(s)", location.code, len(alerts))
    return sum(len(alerts) for alerts in found.values())


@shared_task(
    name="inventory.run_catalogue_import",
    autoretry_for=(OperationalError,),
    retry_backoff=10,
    retry_backoff_max=120,
    max_retries=3,
)
def run_catalogue_import(import_id: int) -> str:
    """Check or import one uploaded catalogue file (inventory.imports.run_import); idempotent by its status."""
    from django.db import IntegrityError

    from core.errors import DomainError
    from inventory import imports

    try:
        return imports.run_import(import_id)
    except DomainError as error:  # what a check cannot see (a stock level overflowing): nothing was written
        imports.fail(import_id, error.message)
        return "failed"
    except IntegrityError:  # someone else added a product with one of its SKUs or barcodes meanwhile
        imports.fail(
            import_id,
            "The catalogue changed while this file was imported (a SKU or barcode was taken meanwhile); nothing was "
            "written. Upload the file again to check it against the catalogue as it is now.",
        )
        return "failed"
