"""How sure a comparison is: ratios across interleaved rounds, with a 95 % confidence interval.

Each round measures every mode under the same conditions, so the ratio mode/baseline is paired
by round. The interval is that of the mean log-ratio (Student's t), turned back into a ratio:
a geometric mean with an interval that is honest for 3 to 10 rounds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# Two-sided 95 % critical values of Student's t by degrees of freedom.
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}  # fmt: skip


def t95(degrees_of_freedom: int) -> float:
    if degrees_of_freedom <= 0:
        return math.inf
    for df in sorted(_T95, reverse=True):
        if degrees_of_freedom >= df:
            # Conservative between table rows: the value of the next smaller df.
            return _T95[df] if degrees_of_freedom <= 30 else 1.96
    return math.inf


@dataclass(frozen=True)
class Ratio:
    value: float
    low: float
    high: float
    rounds: int

    @property
    def significant(self) -> bool:
        return self.rounds >= 2 and (self.low > 1 or self.high < 1)

    def describe(self, lower_is_better: bool) -> str:
        if self.rounds < 2 or math.isnan(self.value):
            return "one round only: no interval, no verdict"
        if not self.significant:
            return "within the noise (the interval includes 1)"
        better = (self.value < 1) == lower_is_better
        return "better, beyond the noise" if better else "worse, beyond the noise"


def paired_ratio(values: Sequence[float], baseline: Sequence[float]) -> Ratio:
    """Geometric-mean ratio values/baseline over rounds, with its 95 % interval."""
    logs = [
        math.log(v / b)
        for v, b in zip(values, baseline, strict=True)
        if v > 0 and b > 0 and not math.isnan(v) and not math.isnan(b)
    ]
    if not logs:
        return Ratio(math.nan, math.nan, math.nan, 0)
    mean = statistics.fmean(logs)
    if len(logs) < 2:
        return Ratio(math.exp(mean), math.nan, math.nan, 1)
    half_width = t95(len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    return Ratio(
        math.exp(mean), math.exp(mean - half_width), math.exp(mean + half_width), len(logs)
    )


@dataclass(frozen=True)
class Summary:
    """One figure of a mode over its rounds: the median, and the 95 % interval of the mean
    (Student's t; none from a single round). A figure never negative in any round (a cost)
    gets no negative bound: a few noisy rounds would otherwise give it one."""

    median: float
    low: float
    high: float
    rounds: int


def summarise(values: Sequence[float]) -> Summary:
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return Summary(math.nan, math.nan, math.nan, 0)
    middle = statistics.median(clean)
    if len(clean) < 2:
        return Summary(middle, math.nan, math.nan, 1)
    mean = statistics.fmean(clean)
    half_width = t95(len(clean) - 1) * statistics.stdev(clean) / math.sqrt(len(clean))
    low = mean - half_width
    if min(clean) >= 0:
        low = max(low, 0.0)
    return Summary(middle, low, mean + half_width, len(clean))


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` quantile (0..1) of the values, linear between the two nearest ranks (as
    numpy's default): the p99 of 20 values lies between the two largest. NaN without values."""
    ordered = sorted(values)
    if not ordered or not 0 <= share <= 1:
        return math.nan
    position = share * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)
