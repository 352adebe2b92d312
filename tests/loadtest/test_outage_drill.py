"""The outage drill (scripts/outage_drill.sh) in a tiny configuration: it runs, counts calls in
every phase, and finds nothing failed (its figures are in the closing notes, not asserted)."""

from __future__ import annotations

import pytest

from pos_loadtest.drills.outage import _main, _options, failed

pytestmark = pytest.mark.drill


async def test_the_drill_runs_and_every_phase_sold() -> None:
    # Few items: the drill's goal is 0 failed for the items the carts have seen, and in a
    # warm-up this short two terminals may not have scanned each of the default 30 yet.
    options = ["--terminals", "2", "--items", "5", "--warmup", "1", "--outage", "2"]
    results = await _main(_options([*options, "--after", "0.5"]))
    assert [str(result.transport) for result in results] == ["http", "grpc"]
    for result in results:
        assert result.warm_scans > 0
        assert result.during is not None
        assert result.during.calls > 0
        assert result.after is not None
        assert result.after.calls > 0
        assert result.ready_probes > 0
    assert not failed(results), [result.summary() for result in results]
