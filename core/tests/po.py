"""A small reader of gettext .po files (what the translation tests need: entries, their flags, their strings)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: str = ""
    msgstr_plural: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    comments: list[str] = field(default_factory=list)  # "#." extracted comments (translator notes)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    @property
    def translated(self) -> bool:
        if self.msgid_plural is not None:
            return bool(self.msgstr_plural) and all(self.msgstr_plural.values())
        return bool(self.msgstr)

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags


def _string(text: str) -> str:
    return ast.literal_eval(text)


def read(path: Path | str) -> list[Entry]:
    """The entries of a .po file, its header (msgid "") left out."""
    entries: list[Entry] = []
    current = Entry()
    last: tuple[str, int | None] | None = None
    started = False

    def flush():
        nonlocal current, started
        if started and current.msgid:
            entries.append(current)
        current, started = Entry(), False

    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
            last = None
            continue
        if line.startswith("#~"):
            current.obsolete = True
            continue
        if line.startswith("#,"):
            if started:
                flush()
            current.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith("#."):
            if started:
                flush()
            current.comments.append(line[2:].strip())
            continue
        if line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            if last is None:
                continue
            name, index = last
            value = _string(line)
            if index is None:
                setattr(current, name, (getattr(current, name) or "") + value)
            else:
                current.msgstr_plural[index] += value
            continue
        starts_entry = keyword == "msgctxt" or (keyword == "msgid" and not (last and last[0] == "msgctxt"))
        if started and starts_entry:
            flush()
        started = True
        if keyword.startswith("msgstr["):
            index = int(keyword[7:-1])
            current.msgstr_plural[index] = _string(rest)
            last = ("msgstr_plural", index)
        else:
            setattr(current, keyword, _string(rest))
            last = (keyword, None)
    flush()
    return [entry for entry in entries if not entry.obsolete]
