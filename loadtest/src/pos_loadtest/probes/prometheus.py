"""A service's /metrics read with prometheus_client's parser: counters summed over the label
sets asked for, histograms' buckets, and a probe of how much chosen figures grew over a run's
measured window (opened and closed like every other probe of locust_run)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

Labels = Mapping[str, str]


def _every(_labels: Labels) -> bool:
    return True


@dataclass(frozen=True)
class Exposition:
    """One reading of /metrics, by metric family."""

    families: Mapping[str, Metric]

    @classmethod
    def parse(cls, text: str) -> Exposition:
        return cls({family.name: family for family in text_string_to_metric_families(text)})

    def total(
        self, family: str, sample: str, where: Callable[[Labels], bool] = _every
    ) -> float | None:
        """The sum of the `sample` values whose labels pass `where`; 0 when the family is
        declared without such samples, None when the service does not expose it (older code,
        or a feature switched off)."""
        found = self.families.get(family)
        if found is None:
            return None
        return sum(s.value for s in found.samples if s.name == sample and where(s.labels))

    def histogram(self, family: str) -> Histogram | None:
        """The family's buckets, every label set added together; None when not exposed."""
        found = self.families.get(family)
        if found is None:
            return None
        buckets: dict[float, float] = {}
        count = total = 0.0
        for s in found.samples:
            if s.name == f"{family}_bucket":
                bound = float(s.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + s.value
            elif s.name == f"{family}_count":
                count += s.value
            elif s.name == f"{family}_sum":
                total += s.value
        return Histogram(tuple(sorted(buckets.items())), count, total)


def read(metrics_url: str) -> Exposition:
    return Exposition.parse(httpx.get(metrics_url, timeout=10).text)


@dataclass(frozen=True)
class Histogram:
    """A Prometheus histogram: cumulative counts per upper bound (the last one +Inf)."""

    buckets: tuple[tuple[float, float], ...]
    count: float
    sum: float

    def minus(self, earlier: Histogram) -> Histogram:
        """What was observed since `earlier` (the same bounds)."""
        before = dict(earlier.buckets)
        return Histogram(
            tuple((bound, n - before.get(bound, 0.0)) for bound, n in self.buckets),
            self.count - earlier.count,
            self.sum - earlier.sum,
        )

    def plus(self, other: Histogram) -> Histogram:
        """Two processes' observations together (the same bounds)."""
        theirs = dict(other.buckets)
        return Histogram(
            tuple((bound, n + theirs.get(bound, 0.0)) for bound, n in self.buckets),
            self.count + other.count,
            self.sum + other.sum,
        )

    @property
    def mean(self) -> float:
        """Exact: the sum of the observations over their count."""
        return self.sum / self.count if self.count else math.nan

    def quantile(self, q: float) -> float:
        """An estimate, as Prometheus' histogram_quantile makes it: linear within the bucket
        the quantile falls in, from the bucket below's bound (0 for the first); in the +Inf
        bucket, the largest finite bound."""
        return bucket_quantile(q, self.buckets)


def bucket_quantile(q: float, buckets: tuple[tuple[float, float], ...]) -> float:
    if not buckets or not 0 <= q <= 1:
        return math.nan
    observed = buckets[-1][1]
    if observed <= 0:
        return math.nan
    rank = q * observed
    lower_bound, lower_count = 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank and cumulative > lower_count:
            if math.isinf(bound):
                return lower_bound
            share = (rank - lower_count) / (cumulative - lower_count)
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, cumulative
    return lower_bound


Reading = Callable[[Exposition], Mapping[str, float] | None]
"""Named figures taken from one reading of /metrics; None: not exposed by this service."""


@dataclass
class GrowthProbe:
    """How much figures read from a service's /metrics grew over the window (None: not
    exposed)."""

    metrics_url: str
    figures: Reading
    grown: dict[str, float] | None = None
    _start: Mapping[str, float] | None = field(default=None, repr=False)

    def open(self, pids: Mapping[str, int]) -> None:
        self._start = self.figures(read(self.metrics_url))

    def close(self) -> None:
        end = self.figures(read(self.metrics_url))
        start = self._start
        self.grown = (
            None if end is None or start is None else {k: v - start[k] for k, v in end.items()}
        )
