from django.conf import settings


def product(request):
    return {"store_name": settings.POS_STORE_NAME, "currency": settings.POS_CURRENCY}
