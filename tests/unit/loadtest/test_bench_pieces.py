"""The pieces bench in a tiny configuration: every piece is timed, those with a baseline get
their ratio, and the summary lists them all. No timing threshold: a bench's figures."""

from __future__ import annotations

import math

from pos_loadtest.benches.floor.pieces import measure, summary


async def test_every_piece_is_timed_and_compared_with_its_baseline() -> None:
    rows = await measure(rounds=2, calls=20)
    assert len(rows) == 8
    for row in rows:
        assert row.us > 0, row
        if row.baseline_name:
            assert row.baseline_us > 0, row
            assert row.ratio is not None, row
            assert row.ratio.rounds == 2, row
            assert math.isfinite(row.ratio.value), row
        else:
            assert row.ratio is None, row
    text = summary(rows, rounds=2, calls=20)
    assert all(f"| {row.name} |" in text for row in rows)
