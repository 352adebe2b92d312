"""The profiler's ranking of frames from py-spy's collapsed stacks, and its advice."""

from __future__ import annotations

import pytest

from pos_loadtest.comparison.profile import explain
from pos_loadtest.comparison.profile_stacks import (
    describe,
    package_of,
    parse_collapsed,
    self_samples_by_package,
    top_frames,
)

COLLAPSED = """
process 42:"python -m cart";main (app.py:1);handle (app.py:10);parse (c.py:5) 6
process 42:"python -m cart";main (app.py:1);handle (app.py:10) 2
process 42:"python -m cart";main (app.py:1);handle (app.py:10);handle (app.py:10);parse (c.py:5) 2
""".splitlines()


def test_self_samples_are_the_innermost_frame_s_and_total_counts_a_stack_once() -> None:
    top = top_frames(parse_collapsed(COLLAPSED), count=2)
    assert top.samples == 10
    assert [(f.frame, f.samples) for f in top.by_self] == [
        ("parse (c.py:5)", 8),
        ("handle (app.py:10)", 2),
    ]
    # handle recurses in the third stack: its two samples count once, not twice. py-spy's
    # process marker at the root is not a frame of code.
    assert [(f.frame, f.samples, f.share) for f in top.by_total] == [
        ("handle (app.py:10)", 10, 1.0),
        ("main (app.py:1)", 10, 1.0),
    ]
    text = describe(top)
    assert "top 2 frames by self samples:" in text
    assert " 80.0%        8  parse (c.py:5)" in text


def test_a_line_that_is_not_a_collapsed_stack_is_refused() -> None:
    with pytest.raises(ValueError, match="not a collapsed stack line"):
        parse_collapsed(["main (app.py:1);handle (app.py:10)"])


def test_a_ptrace_refusal_is_explained() -> None:
    advice = explain("Error: Permission denied (os error 13)")
    assert "ptrace" in advice
    assert "kernel.yama.ptrace_scope=0" in advice
    assert "SYS_PTRACE" in advice
    assert advice.endswith("Permission denied (os error 13)")
    assert explain("Error: no such process").startswith("py-spy failed:")


def test_frames_are_grouped_by_package_and_the_project_s_one_level_deeper() -> None:
    assert package_of("solve_dependencies (fastapi/dependencies/utils.py:570)") == "fastapi"
    assert package_of("uuid4 (uuid.py:721)") == "uuid"
    assert package_of("price (cart/domain/pricing.py:159)") == "cart/domain"
    assert package_of("decimal_to_bson (pos_commons/mongo.py:80)") == "pos_commons/mongo"
    assert package_of("price (pos_loadtest/benches/floor/sale.py:130)") == "pos_loadtest/benches"
    assert package_of("<module> (<string>:1)") == "<string>"
    assert package_of("no file") == "no file"
    groups = self_samples_by_package(parse_collapsed(COLLAPSED))
    # The innermost frame's package takes a stack's samples; every sample is in one group.
    assert groups == {"c": 8, "app": 2}
