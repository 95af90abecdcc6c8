"""The translations are complete for what is marked for translation, and the screens listed as translated carry no
text that escapes it.

1. makemessages runs for every language into a temporary copy of locale/ (the repository's files are left alone):
   any msgid it finds that the committed catalogue lacks, any entry left empty and any fuzzy entry fails.
2. The committed .mo files are what the .po files compile to (nobody forgot compilemessages).
3. TRANSLATED_TEMPLATES lists the screens whose every visible text and label goes through {% translate %}: each is
   read with its template tags taken out, and any word left in its text or its placeholder/aria-label/title
   attributes fails. A screen joins the list when it is wrapped; the screens not yet in it are named in
   docs/TRANSLATING.md.
"""

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from core.tests.po import read


@pytest.fixture(autouse=True)
def _gettext_tools():
    if shutil.which("xgettext") is None or shutil.which("msgfmt") is None:
        pytest.fail("GNU gettext (xgettext, msgfmt) is missing: `make i18n-tools` (or `make test`) installs it.")


BASE = Path(settings.BASE_DIR)
LANGUAGES = [code for code, _ in settings.LANGUAGES if code != "en"]
IGNORED = [".venv", "test-artifacts", "node_modules", "static/js/*", "staticfiles"]

# The screens of the cashier's day (sign in, order, pay, receipt, refund, shift, X/Z), the POS frame, and the
# guest's receipt page and e-mail.
TRANSLATED_TEMPLATES = [
    "templates/base.html",
    "templates/home.html",
    "templates/registration/login.html",
    "templates/pos/base.html",
    "templates/pos/floor.html",
    "templates/pos/order.html",
    "templates/pos/_ticket.html",
    "templates/pos/_products.html",
    "templates/pos/pay.html",
    "templates/pos/receipt.html",
    "templates/pos/refund_find.html",
    "templates/pos/refund.html",
    "templates/pos/shift_start.html",
    "templates/pos/shift.html",
    "templates/pos/shift_close.html",
    "templates/pos/z_report.html",
    "templates/pos/switch.html",
    "templates/pos/_approve.html",
    "templates/pos/_print_banner.html",
    "templates/pos/_line_edit.html",
    "templates/pos/_discount.html",
    "templates/pos/_void_order.html",
    "templates/pos/_move.html",
    "templates/pos/_scan_error.html",
    "templates/pos/kitchen.html",
    "templates/pos/_kitchen_board.html",
    "templates/pos/split.html",
    "templates/pos/set_pin.html",
    "templates/pos/_chooser.html",
    "templates/pos/_choices.html",
    "templates/pos/_customer.html",
    "templates/pos/_customer_results.html",
    "templates/pos/_gift_card_balance.html",
    "templates/pos/gift_cards.html",
    "templates/pos/no_location.html",
    "templates/pos/pair.html",
    "templates/pos/pair_device.html",
    "templates/pos/_pair_wait.html",
    "templates/pos/offline.html",
    "templates/pos/_offline_status.html",
    "billing/templates/billing/receipt.html",
    "billing/templates/billing/_receipt_slip.html",
    "billing/templates/billing/email/receipt.html",
    "billing/templates/billing/email/receipt.txt",
]
# What may stand untranslated: the product's name, key names printed on buttons, units.
ALLOWED_WORDS = {"Tillhouse", "F1", "F2", "F3", "F4", "F7", "F8", "F9", "F10", "F12", "C", "Z", "X"}


def test_makemessages_finds_nothing_new_empty_or_fuzzy(tmp_path, monkeypatch):
    # makemessages writes a file's strings to the locale/ folder beside it: a folder of links to the sources with
    # a copy of locale/ keeps the repository's catalogues as they are.
    for item in BASE.iterdir():
        if item.name not in ("locale", ".git", ".venv") and (item.is_dir() or item.suffix == ".py"):
            (tmp_path / item.name).symlink_to(item)
    locale = tmp_path / "locale"
    shutil.copytree(BASE / "locale", locale)
    monkeypatch.chdir(tmp_path)
    with override_settings(LOCALE_PATHS=[locale]):
        call_command(
            "makemessages",
            locale=LANGUAGES,
            ignore_patterns=IGNORED,
            symlinks=True,
            no_location=True,
            no_obsolete=True,
            verbosity=0,
        )
    problems = []
    for language in LANGUAGES:
        committed = {entry.key for entry in read(BASE / "locale" / language / "LC_MESSAGES" / "django.po")}
        extracted = read(locale / language / "LC_MESSAGES" / "django.po")
        for entry in extracted:
            if entry.key not in committed:
                problems.append(f"{language}: new {entry.key}")
            elif entry.fuzzy:
                problems.append(f"{language}: fuzzy {entry.key}")
            elif not entry.translated:
                problems.append(f"{language}: empty {entry.key}")
        gone = committed - {entry.key for entry in extracted}
        problems.extend(f"{language}: no longer in the code {key}" for key in sorted(gone, key=str))
    assert problems == [], "run `make messages`, translate, and commit the .po and .mo files"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_file_is_the_compiled_po_file(language, tmp_path):
    folder = BASE / "locale" / language / "LC_MESSAGES"
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(compiled), str(folder / "django.po")], check=True)
    assert compiled.read_bytes() == (folder / "django.mo").read_bytes(), "run `make messages` and commit the .mo"


def test_ambiguous_words_carry_a_note_or_a_context_for_translators():
    entries = read(BASE / "locale" / "de" / "LC_MESSAGES" / "django.po")
    for word in ("Void", "Tender", "Course %(number)s", "Change", "Tendered"):
        found = [entry for entry in entries if entry.msgid == word]
        assert found, word
        assert all(entry.msgctxt or entry.comments for entry in found), word


class _Text(HTMLParser):
    LABELS = ("placeholder", "aria-label", "title", "alt")

    def __init__(self):
        super().__init__()
        self.words: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in self.LABELS and value:
                self.words.extend(_words(value))

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(self._skip - 1, 0)

    def handle_data(self, data):
        if not self._skip:
            self.words.extend(_words(data))


def _words(text: str) -> list[str]:
    text = re.sub(r"\S+@\S+", "", text)  # an example address (placeholder="guest@example.com")
    return [w for w in re.findall(r"[A-Za-z][A-Za-z']+|[A-Z]\b", text) if w not in ALLOWED_WORDS]


def _untranslated_words(source: str) -> list[str]:
    source = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", "", source, flags=re.S)
    source = re.sub(r"{%\s*blocktranslate.*?{%\s*endblocktranslate\s*%}", "", source, flags=re.S)
    source = re.sub(r"{#.*?#}", "", source, flags=re.S)
    source = re.sub(r"{%\s*block (body_class|pos_body_class)\s*%}.*?{%\s*endblock\s*%}", "", source)  # CSS classes
    source = re.sub(r"{%.*?%}|{{.*?}}", "", source, flags=re.S)
    parser = _Text()
    parser.feed(source)
    return parser.words


@pytest.mark.parametrize("template", TRANSLATED_TEMPLATES)
def test_a_translated_screen_has_no_text_outside_the_translation_tags(template):
    assert _untranslated_words((BASE / template).read_text()) == []


def test_the_check_finds_text_left_outside_the_tags():
    assert _untranslated_words('<p>{% translate "Pay" %}</p><button aria-label="Close">x</button> Total') == [
        "Close",
        "Total",
    ]
