"""The lock files are not stale: `make test` runs this (standard library only, no network) before anything else.

requirements.txt and requirements-dev.txt hold the human-edited top-level pins; `make lock` compiles them into
requirements.lock and requirements-dev.lock (pip-tools, every transitive dependency with its hashes) and then runs
this script with --stamp, which writes into each lock the digest of the input it was compiled from. The check fails,
with a sentence telling to run `make lock`, when:

- an input's requirement is not pinned (name==version), or a top-level pin is missing from its lock or has another
  version there;
- an input changed in any other way that matters (a package removed, an extra added) since the last `make lock`:
  its digest (requirement lines without comments, in any order) differs from the one stamped in the lock;
- a locked requirement has no hash (a hand edit), or requirements-dev.lock disagrees with requirements.lock.
"""

import argparse
import hashlib
import re
import sys
from pathlib import Path

PAIRS = (("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock"))
STAMP = "# inputs-sha256: "
STAMP_LINE = re.compile(r"(?m)^# inputs-sha256: ([0-9a-f]{64})\b.*\n?")
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
LOCKED = re.compile(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)[^\n\\]*(?:\\\n[ \t]+--hash=[^\n\\]*)*")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def input_lines(path: Path, seen: frozenset[Path] = frozenset()) -> list[str]:
    """The requirement and option lines of an input, comments and blanks dropped, `-r` files followed."""
    lines = []
    for raw in path.read_text().splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        included = re.match(r"^(?:-r|--requirement)[\s=]+(\S+)$", line)
        if included:
            target = (path.parent / included.group(1)).resolve()
            if target in seen:
                continue
            lines.extend(input_lines(target, seen | {path.resolve()}))
        else:
            lines.append(" ".join(line.split()))
    return lines


def digest(path: Path) -> str:
    return hashlib.sha256("\n".join(sorted(input_lines(path))).encode()).hexdigest()


def locked_pins(text: str) -> dict[str, tuple[str, bool]]:
    """name -> (version, has a hash) for every requirement of a compiled lock."""
    return {_name(m.group(1)): (m.group(2), "--hash=" in m.group(0)) for m in LOCKED.finditer(text)}


def problems(root: Path) -> list[str]:
    found = []
    locks = {}
    for source, lock in PAIRS:
        if not (root / lock).exists():
            found.append(f"{lock} is missing.")
            continue
        text = (root / lock).read_text()
        pins = locks[lock] = locked_pins(text)
        stamp = STAMP_LINE.search(text)
        if not stamp:
            found.append(f"{lock} carries no digest of {source}: it was not written by `make lock`.")
        elif stamp.group(1) != digest(root / source):
            found.append(f"{source} changed since {lock} was compiled from it.")
        for line in input_lines(root / source):
            if line.startswith("-"):
                continue
            match = REQUIREMENT.match(line)
            name, rest = (match.group(1), match.group(3)) if match else (line, "")
            pinned = re.match(r"^==\s*([^\s;,]+)\s*(;.*)?$", rest)
            if not pinned:
                found.append(f"{source}: `{line}` is not pinned (write {name}==<version>).")
                continue
            version = pinned.group(1)
            have = pins.get(_name(name))
            if have is None:
                found.append(f"{source} pins {name}=={version} but {lock} does not have {name}.")
            elif have[0] != version:
                found.append(f"{source} pins {name}=={version} but {lock} has {name}=={have[0]}.")
        for name, (version, hashed) in sorted(pins.items()):
            if not hashed:
                found.append(f"{lock}: {name}=={version} has no --hash.")
    if len(locks) == len(PAIRS):
        runtime, dev = (locks[lock] for _, lock in PAIRS)
        for name, (version, _) in sorted(runtime.items()):
            if dev.get(name, (None,))[0] != version:
                other = f"{name}=={dev[name][0]}" if name in dev else f"no {name}"
                found.append(f"requirements.lock has {name}=={version} but requirements-dev.lock has {other}.")
    return found


def stamp(root: Path) -> None:
    """Write the digest of each input into its freshly compiled lock, as the first line."""
    for source, lock in PAIRS:
        text = STAMP_LINE.sub("", (root / lock).read_text())
        line = f"{STAMP}{digest(root / source)} ({source}; `make test` checks that this lock is not stale)\n"
        (root / lock).write_text(line + text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--stamp", action="store_true", help="stamp the locks just compiled by `make lock`")
    args = parser.parse_args(argv)
    if args.stamp:
        stamp(args.root)
    found = problems(args.root)
    if found:
        print("The lock files are stale:", file=sys.stderr)
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        print(
            "Run `make lock` to recompile requirements.lock and requirements-dev.lock from requirements.txt and "
            "requirements-dev.txt, then commit the inputs and the locks together.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
