"""PINs are stored as a keyed hash: the server's secret, a salt of their own and the person's id. A copy of the
database without the secret reveals nothing; PINs stored earlier by a password hasher keep working and move to the
keyed hash at their next use, as do PINs keyed with a key being rotated out."""

import pytest
from django.contrib.auth.hashers import make_password

from staff import pins
from staff.models import StaffProfile

pytestmark = pytest.mark.django_db


def test_a_pin_is_stored_as_a_keyed_hash_of_that_person_and_checked_as_such(waiter, cashier, settings):
    settings.POS_PIN_SECRET = "the-servers-own-pin-secret-" + "s" * 20
    pins.set_pin(user=waiter, pin="583920")
    stored = StaffProfile.objects.get(user=waiter).pin_hash

    assert stored.startswith("pin-hmac-sha256$") and "583920" not in stored
    assert pins.verify_pin(user_id=waiter.pk, pin="583920") == waiter
    # The same stored value on someone else's profile matches nothing: the hash is bound to the person.
    StaffProfile.objects.update_or_create(user=cashier, defaults={"pin_hash": stored})
    with pytest.raises(pins.InvalidPin):
        pins.verify_pin(user_id=cashier.pk, pin="583920")


def test_without_the_secret_the_stored_pin_matches_nothing(waiter, settings):
    settings.POS_PIN_SECRET = "the-servers-own-pin-secret-" + "s" * 20
    pins.set_pin(user=waiter, pin="583920")

    settings.POS_PIN_SECRET = "someone-elses-guess-at-the-secret-" + "g" * 10

    with pytest.raises(pins.InvalidPin):
        pins.verify_pin(user_id=waiter.pk, pin="583920")


def test_a_pin_stored_by_the_password_hasher_works_once_more_and_is_then_stored_keyed(waiter):
    StaffProfile.objects.update_or_create(user=waiter, defaults={"pin_hash": make_password("583920")})

    assert pins.verify_pin(user_id=waiter.pk, pin="583920") == waiter

    stored = StaffProfile.objects.get(user=waiter).pin_hash
    assert stored.startswith("pin-hmac-sha256$")
    assert pins.verify_pin(user_id=waiter.pk, pin="583920") == waiter


def test_a_wrong_pin_against_an_old_hash_is_refused_and_leaves_it_as_it_was(waiter):
    old = make_password("583920")
    StaffProfile.objects.update_or_create(user=waiter, defaults={"pin_hash": old})

    with pytest.raises(pins.InvalidPin):
        pins.verify_pin(user_id=waiter.pk, pin="583921")

    assert StaffProfile.objects.get(user=waiter).pin_hash == old


def test_rotating_the_secret_key_with_a_fallback_keeps_pins_and_re_keys_them(waiter, settings):
    settings.POS_PIN_SECRET = ""
    settings.SECRET_KEY = "the-old-secret-key-" + "o" * 40
    settings.SECRET_KEY_FALLBACKS = []
    pins.set_pin(user=waiter, pin="583920")
    keyed_with_old = StaffProfile.objects.get(user=waiter).pin_hash

    settings.SECRET_KEY = "the-new-secret-key-" + "n" * 40
    settings.SECRET_KEY_FALLBACKS = ["the-old-secret-key-" + "o" * 40]
    assert pins.verify_pin(user_id=waiter.pk, pin="583920") == waiter
    re_keyed = StaffProfile.objects.get(user=waiter).pin_hash
    assert re_keyed != keyed_with_old

    settings.SECRET_KEY_FALLBACKS = []  # the old key retired: the PIN was moved to the new one at its last use
    assert pins.verify_pin(user_id=waiter.pk, pin="583920") == waiter
