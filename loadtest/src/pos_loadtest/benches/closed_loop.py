"""Closed-loop load from inside an asyncio process: N workers, bounded in count and time.

Figures are compared as ratios to a baseline measured in the same run, never as absolute
times: these machines are noisy.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Sample:
    requests: int
    errors: int
    seconds: float
    latencies: list[float] = field(repr=False)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[index]

    @property
    def p50_ms(self) -> float:
        return self.percentile(50) * 1000

    @property
    def p99_ms(self) -> float:
        return self.percentile(99) * 1000


async def closed_loop(
    call: Callable[[], Awaitable[object]],
    *,
    concurrency: int,
    seconds: float,
    max_requests: int = 1_000_000,
) -> Sample:
    """Runs `call` from `concurrency` workers until `seconds` pass or `max_requests` are done."""
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + seconds
    budget = max_requests

    async def worker() -> None:
        nonlocal errors, budget
        while budget > 0 and time.perf_counter() < deadline:
            budget -= 1
            begin = time.perf_counter()
            try:
                await call()
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - begin)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Sample(len(latencies), errors, time.perf_counter() - started, latencies)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """min..max of a few repeated measurements, for the noise next to a median."""
    return f"{min(values):.2f}..{max(values):.2f}" if values else "-"


def median_ratio(mine: Sequence[float], base: Sequence[float]) -> tuple[float, str]:
    """The median over rounds of mine/base, paired by round, and its spread."""
    ratios = [m / b for m, b in zip(mine, base, strict=True) if b]
    return median(ratios), spread(ratios)
