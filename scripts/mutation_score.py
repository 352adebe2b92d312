"""Prints the score of the last mutmut run of cart's pure domain (run by scripts/mutation.sh,
from services/cart).

The score is killed / (total - equivalent): an equivalent mutant behaves like the code for
every input the domain can receive, so no test can kill it. Those are listed, each with its
reason, in services/cart/mutation-equivalents.txt. mutmut numbers a function's mutants in
order, so the names there must be checked again when that function changes: entries that
no longer survive are reported.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

MUTMUT = Path(sys.executable).parent / "mutmut"
EQUIVALENTS = Path("mutation-equivalents.txt")
CAUGHT = {"killed", "timeout"}
"""A mutant that makes a test fail, or run past its time limit, is caught."""
TARGET = 97.0


def statuses() -> dict[str, str]:
    """Each mutant's status ("killed", "survived", ...), from `mutmut results --all true`."""
    output = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"], check=True, capture_output=True, text=True
    ).stdout
    found: dict[str, str] = {}
    for line in output.splitlines():
        name, separator, status = line.strip().rpartition(": ")
        if separator:
            found[name] = status
    return found


def equivalents() -> dict[str, str]:
    """The mutants listed as equivalent, with their reasons: `name  reason` a line."""
    listed: dict[str, str] = {}
    for line in EQUIVALENTS.read_text().splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            name, _, reason = text.partition(" ")
            listed[name] = reason.strip()
    return listed


def percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 100.0


def main() -> int:
    found = statuses()
    listed = equivalents()
    if not found:
        print("mutation: no results (run scripts/mutation.sh)")
        return 1
    counts = Counter(found.values())
    caught = sum(counts[status] for status in CAUGHT)
    survivors = sorted(name for name, status in found.items() if status not in CAUGHT)
    equivalent = [name for name in survivors if name in listed]
    others = [name for name in survivors if name not in listed]
    stale = sorted(name for name in listed if found.get(name, "gone") in CAUGHT | {"gone"})
    total = len(found)
    score = percent(caught, total - len(equivalent))

    print("Mutation testing of services/cart/src/cart/domain")
    print("  " + ", ".join(f"{status}: {count}" for status, count in sorted(counts.items())))
    print(f"  caught {caught} of {total} mutants ({percent(caught, total):.1f} %)")
    print(f"  equivalent survivors: {len(equivalent)} (see {EQUIVALENTS})")
    for name in equivalent:
        print(f"    {name}: {listed[name]}")
    print(f"  score: {caught} / ({total} - {len(equivalent)}) = {score:.1f} % (target {TARGET} %)")
    if others:
        print(f"  surviving, not listed as equivalent: {len(others)} (mutmut show NAME)")
        for name in others:
            print(f"    {name}: {found[name]}")
    if stale:
        print(f"  listed as equivalent but no longer surviving (renumbered?): {len(stale)}")
        for name in stale:
            print(f"    {name}: {found.get(name, 'no such mutant')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
