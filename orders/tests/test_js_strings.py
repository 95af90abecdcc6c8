"""The POS scripts' own texts go through the translations: every window.tillText("...") in static/js is listed in
orders.js_strings (so makemessages finds it), and each page carries them translated in its JSON block."""

import json
import re
from pathlib import Path

import pytest
from django.utils import translation

from orders import js_strings
from orders.templatetags.pos import pos_js_strings

STATIC_JS = Path(__file__).resolve().parents[2] / "static" / "js"


def test_every_text_a_script_writes_through_tilltext_is_listed_for_translation():
    used = set()
    for script in STATIC_JS.glob("*.js"):
        used |= set(re.findall(r'tillText\("((?:[^"\\]|\\.)*)"', script.read_text()))
    assert used, "no script uses window.tillText"
    assert used - set(js_strings.STRINGS) == set()
    assert set(js_strings.STRINGS) - used == set(), "listed but no script writes it any more"


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [("de", "Change due: %s", "Rückgeld: %s"), ("id", "%s queued", "%s dalam antrean"), ("en", "Offline", "Offline")],
)
def test_the_page_block_carries_the_scripts_texts_in_the_page_language(language, text, expected):
    with translation.override(language):
        block = str(pos_js_strings())
    table = json.loads(re.search(r">(.*)</script>", block, re.S).group(1))
    assert 'id="pos-strings"' in block and table[text] == expected
