"""The heaviest frames of a profile, from py-spy's collapsed stacks (`--format raw`).

Each line is `outer;...;inner COUNT`: COUNT samples caught the process in that stack. A
frame's self samples are those where it was innermost (the time spent in its own code); its
total samples those where it was anywhere on the stack (its own code and what it called),
counted once per stack even when it recurses. With --subprocesses py-spy puts a marker
frame, `process PID:"command"`, at the root of every stack: it is no code, and ranked by
total it would head every list at 100 %, so it is left out of the rankings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_PROCESS_MARKER = re.compile(r'^process \d+:".*"$')
_FRAME_FILE = re.compile(r"\(([^()]*?)(?::\d+)?\)$")
PROJECT_PACKAGES = frozenset({"cart", "master_data", "pos_commons", "pos_loadtest"})
"""The project's own packages: their frames are grouped one level deeper (cart/domain,
pos_commons/observability...)."""


@dataclass(frozen=True)
class Stack:
    frames: tuple[str, ...]
    samples: int


def parse_collapsed(lines: Iterable[str]) -> list[Stack]:
    stacks = []
    for line in lines:
        text = line.strip()
        if not text:
            continue
        frames, _, count = text.rpartition(" ")
        if not frames or not count.isdigit():
            raise ValueError(f"not a collapsed stack line: {text[:120]!r}")
        stacks.append(Stack(tuple(frames.split(";")), int(count)))
    return stacks


@dataclass(frozen=True)
class FrameShare:
    frame: str
    samples: int
    share: float
    """Of all samples."""


@dataclass(frozen=True)
class TopFrames:
    samples: int
    by_self: list[FrameShare]
    by_total: list[FrameShare]


def top_frames(stacks: Iterable[Stack], count: int) -> TopFrames:
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    samples = 0
    for stack in stacks:
        samples += stack.samples
        code = [frame for frame in stack.frames if not _PROCESS_MARKER.match(frame)]
        if not code:
            continue
        own[code[-1]] += stack.samples
        for frame in set(code):
            anywhere[frame] += stack.samples

    def ranked(counter: Counter[str]) -> list[FrameShare]:
        # Ties in a stable order: by name.
        ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:count]
        return [FrameShare(frame, n, n / samples) for frame, n in ordered]

    return TopFrames(samples, ranked(own), ranked(anywhere))


def describe(top: TopFrames) -> str:
    """The two rankings as plain text."""
    lines = [f"{top.samples} samples"]
    for title, ranking in (("by self samples", top.by_self), ("by total samples", top.by_total)):
        lines += ["", f"top {len(ranking)} frames {title}:"]
        lines += [f"{f.share:7.1%} {f.samples:8d}  {f.frame}" for f in ranking]
    return "\n".join(lines)


def package_of(frame: str) -> str:
    """The group a frame's code belongs to, from its file as py-spy names it (relative to the
    import path: `solve_dependencies (fastapi/dependencies/utils.py:570)`): the top package
    or module (`fastapi`, `asyncio`, `uuid`), and for the project's own packages the next
    level too (`cart/domain`, `pos_commons/mongo`). A frame without a file is its own group."""
    found = _FRAME_FILE.search(frame)
    if found is None:
        return frame
    parts = found[1].removesuffix(".py").split("/")
    depth = 2 if parts[0] in PROJECT_PACKAGES else 1
    return "/".join(parts[:depth])


def self_samples_by_package(stacks: Iterable[Stack]) -> Counter[str]:
    """Self samples (those of each stack's innermost frame of code) summed by `package_of`:
    the time spent in each package's own code, the groups adding up to every sample."""
    groups: Counter[str] = Counter()
    for stack in stacks:
        code = [frame for frame in stack.frames if not _PROCESS_MARKER.match(frame)]
        if code:
            groups[package_of(code[-1])] += stack.samples
    return groups
