"""The words the POS scripts write on the screen (static/js/pos.js, offline.js, offline-screen.js), translated on
the server. Every POS page carries them as a JSON block (`{% pos_js_strings %}` in templates/pos/base.html, id
"pos-strings"), and the scripts look each one up with window.tillText(text, values...): the English text is the key
and what shows when a text is missing; each "%s" takes the next value (a name, a code, an amount). The offline
screen is kept by the service worker with the block it was served with, so it speaks its language offline too.

A new text in a script goes here too (orders/tests/test_js_strings.py finds any that does not), then
`make messages` and its translations.
"""

from django.utils.translation import gettext, gettext_noop

# Translators: these are written on the till's screen by its scripts; "%s" is a value put in (a name, an amount).
STRINGS = (
    gettext_noop("%s h %s min"),
    gettext_noop("%s min"),
    gettext_noop("%s queued"),
    gettext_noop("%s refused"),
    gettext_noop("A sale is still being applied."),
    gettext_noop("Add"),
    gettext_noop("Added %s."),
    gettext_noop("Cancel"),
    gettext_noop("Card"),
    gettext_noop("Cash is rounded to %s: %s in cash."),
    gettext_noop("Cash"),
    gettext_noop("Change %s"),
    gettext_noop("Change due: %s"),
    gettext_noop("Choose for %s"),
    gettext_noop("Counter sale"),
    gettext_noop("No answer from the till server: the network is down or the server is unreachable."),
    gettext_noop("No product has the code “%s”."),
    gettext_noop("No products here."),
    gettext_noop("Nobody is signed in on this terminal: sign in once while online."),
    gettext_noop("Nothing matches “%s”."),
    gettext_noop("Offline"),
    gettext_noop("Online"),
    gettext_noop("Other"),
    gettext_noop("Pay %s"),
    gettext_noop("Pay"),
    gettext_noop("Remove"),
    gettext_noop("Retry sends the same action again: it is applied once, however many times it is sent."),
    gettext_noop("Sending"),
    gettext_noop("Sign in to keep the catalogue."),
    gettext_noop("Subtotal"),
    gettext_noop("Takeaway"),
    gettext_noop("Tap a product or scan a barcode to add it."),
    gettext_noop("Tax (included)"),
    gettext_noop("Tax"),
    gettext_noop("The device's storage refused."),
    gettext_noop("The sale could not be kept on this terminal: %s Nothing was queued."),
    gettext_noop("The server refused the queued sales (%s)."),
    gettext_noop("The till server could not do this (error %s)."),
    gettext_noop("The till server took too long to answer."),
    gettext_noop("This action was refused."),
    gettext_noop("This terminal has no catalogue kept yet: it needs the server once before it can sell offline."),
    gettext_noop("This terminal is locked: unlock it with your PIN when the server is back."),
    gettext_noop("Tip %s · with the tip %s"),
    gettext_noop("Total"),
    gettext_noop("oldest %s"),
    gettext_noop("under 1 min"),
)


def translated() -> dict[str, str]:
    """Each text and its translation in the active language."""
    return {text: gettext(text) for text in STRINGS}
