"""Read ESC/POS bytes back as a printer would: the printed text lines and their width in columns.

Knows the commands the renderer emits and fails on any other, so an unexpected command cannot hide text.
"""

from dataclasses import dataclass, field

ESC, GS = 0x1B, 0x1D
# command byte after ESC/GS → number of parameter bytes
ESC_ARGS = {
    ord("@"): 0,
    ord("t"): 1,
    ord("a"): 1,
    ord("E"): 1,
    ord("!"): 1,
    ord("-"): 1,
    ord("M"): 1,
    ord("d"): 1,
    ord("p"): 3,
    ord("G"): 1,
    ord("{"): 1,
}
GS_ARGS = {ord("!"): 1, ord("B"): 1, ord("h"): 1, ord("w"): 1, ord("f"): 1, ord("H"): 1}


@dataclass
class Printout:
    lines: list[tuple[str, int]] = field(default_factory=list)  # (text, width in columns)
    commands: list[bytes] = field(default_factory=list)
    barcodes: list[bytes] = field(default_factory=list)
    qr_codes: list[str] = field(default_factory=list)  # what each QR code says (GS ( k: store the data)
    code_page: int | None = None
    cut: bool = False
    drawer_kicks: int = 0

    @property
    def text(self) -> str:
        return "\n".join(text for text, _ in self.lines)


def read(data: bytes, *, encoding: str = "cp858") -> Printout:
    out = Printout()
    scale = 1  # width multiplier from ESC ! / GS !
    line = bytearray()
    i = 0

    def flush():
        text = line.decode(encoding)
        out.lines.append((text, len(text) * scale))
        line.clear()

    while i < len(data):
        b = data[i]
        if b == ESC:
            cmd = data[i + 1]
            n = ESC_ARGS[cmd]
            args = data[i + 2 : i + 2 + n]
            if cmd == ord("!"):
                scale = 2 if args[0] & 0x20 else 1
            elif cmd == ord("t"):
                out.code_page = args[0]
            elif cmd == ord("p"):
                out.drawer_kicks += 1
            elif cmd == ord("d"):
                line.clear() if not line else flush()
            out.commands.append(data[i : i + 2 + n])
            i += 2 + n
        elif b == GS:
            cmd = data[i + 1]
            if cmd == ord("V"):
                n = 1 if data[i + 2] in (0, 1, 48, 49) else 2
                out.cut = True
            elif cmd == ord("k"):
                length = data[i + 3]
                out.barcodes.append(data[i + 4 : i + 4 + length])
                i += 4 + length
                continue
            elif cmd == ord("("):
                assert data[i + 2] == ord("k"), f"unexpected GS ( {data[i + 2]:#x} at {i}"
                length = data[i + 3] + 256 * data[i + 4]
                cn, fn = data[i + 5], data[i + 6]
                if (cn, fn) == (ord("1"), ord("P")):  # QR code: store the data (m = '0', then the data)
                    out.qr_codes.append(data[i + 8 : i + 5 + length].decode("utf-8"))
                out.commands.append(data[i : i + 7])
                i += 5 + length
                continue
            else:
                n = GS_ARGS[cmd]
                if cmd == ord("!"):
                    scale = ((data[i + 2] >> 4) & 7) + 1
            out.commands.append(data[i : i + 2 + n])
            i += 2 + n
        elif b == 0x0A:
            flush()
            i += 1
        else:
            assert b >= 0x20, f"unexpected control byte {b:#x} at {i}"
            line.append(b)
            i += 1
    if line:
        flush()
    return out
