"""`snakescope report CAPTURE.json --format F [-o OUT]`: re-rendering a capture.

Two inputs: a hand-written capture whose every output is known exactly from
docs/formats.md, and a real recording of split_70_30.py, whose renderings must
hold exactly the samples of the capture.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from support import (
    QUICK_TIMEOUT,
    SYNTHETIC,
    Capture,
    assert_clean_stderr,
    check_speedscope,
    check_svg,
    expected_collapsed,
    parse_collapsed,
    record,
    run,
    script,
)

# docs/formats.md, "Collapsed stacks": thread root frame, `qualname (file:line)`
# or `qualname (file)` when the line is unknown (function name when there is no
# qualname), `;` in names written as `:`, idle/GIL variants merged, sorted.
SYNTHETIC_COLLAPSED = """\
thread (4242): MainThread;<module> (/src/app.py:30);main (/src/app.py:25);heavy (/src/app.py:10) 7
thread (4242): MainThread;<module> (/src/app.py:30);main (/src/app.py:25);heavy (/src/app.py:10);Worker.work (/src/app.py:5) 56
thread (4242): MainThread;<module> (/src/app.py:30);main (/src/app.py:25);light (/src/app.py:15);Worker.work (/src/app.py:6) 22
thread (4243);Thread.run (/usr/lib/python3.11/threading.py);poll (/src/we:ird.py) 20
"""  # noqa: E501 (the expected lines, verbatim)


def report(snakescope: str, capture: Path, fmt: str, out: Path | None = None) -> str:
    """Runs report; returns what it wrote (to OUT when given, else stdout)."""
    args = [snakescope, "report", str(capture), "--format", fmt]
    if out is not None:
        args += ["-o", str(out)]
    result = run(args, timeout=QUICK_TIMEOUT)
    assert result.returncode == 0, result.describe()
    assert_clean_stderr(result)
    if out is None:
        return result.stdout
    assert result.stdout == "", f"report -o also wrote to stdout{result.describe()}"
    assert out.is_file(), f"report -o did not write {out}{result.describe()}"
    return out.read_text(encoding="utf-8")


@pytest.fixture
def synthetic(tmp_path) -> Path:
    path = tmp_path / "synthetic.json"
    path.write_text(json.dumps(SYNTHETIC), encoding="utf-8")
    Capture(SYNTHETIC)  # the fixture itself satisfies the documented format
    return path


@pytest.fixture(scope="session")
def split_capture(any_python, snakescope, tmp_path_factory) -> Path:
    """A real capture of split_70_30.py (2 s)."""
    path = tmp_path_factory.mktemp("report") / "split.json"
    record(snakescope, [any_python.path, script("split_70_30.py"), "2"], path)
    return path


# ---- the hand-written capture: exact expectations ----

def test_collapsed_exact(snakescope, synthetic, tmp_path):
    assert report(snakescope, synthetic, "collapsed", tmp_path / "out.txt") == SYNTHETIC_COLLAPSED
    assert expected_collapsed(Capture(SYNTHETIC)) == parse_collapsed(SYNTHETIC_COLLAPSED)


def test_collapsed_to_stdout(snakescope, synthetic):
    assert report(snakescope, synthetic, "collapsed") == SYNTHETIC_COLLAPSED


def test_speedscope_exact(snakescope, synthetic, tmp_path):
    data = json.loads(report(snakescope, synthetic, "speedscope", tmp_path / "out.speedscope.json"))
    profiles = check_speedscope(data, Capture(SYNTHETIC))
    assert set(profiles) == {"MainThread (tid 4242)", "thread (tid 4243)"}
    assert data["profiles"][data["activeProfileIndex"]]["name"] == "MainThread (tid 4242)"


def test_flamegraph(snakescope, synthetic, tmp_path):
    check_svg(report(snakescope, synthetic, "flamegraph", tmp_path / "out.svg"),
              ["heavy", "light", "Worker.work"])


def test_text(snakescope, synthetic):
    text = report(snakescope, synthetic, "text")
    for name in ("heavy", "light", "work", "MainThread"):
        assert name in text, f"{name!r} missing from the text report:\n{text}"


def test_json_round_trip(snakescope, synthetic, tmp_path):
    out = tmp_path / "again.json"
    report(snakescope, synthetic, "json", out)
    assert _content(Capture.load(out)) == _content(Capture(SYNTHETIC))


def test_unknown_fields_are_ignored(snakescope, tmp_path):
    # capture-format.md: "New fields are added without bumping version".
    data = copy.deepcopy(SYNTHETIC)
    data["meta"]["some_future_field"] = {"x": 1}
    data["annotations"] = []
    data["frames"][0]["column"] = 4
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert report(snakescope, path, "collapsed") == SYNTHETIC_COLLAPSED


def _content(cap: Capture):
    """A capture's content independent of the order of its lists."""
    stacks = sorted((s.tid, tuple(tuple(sorted(f.items())) for f in s.frames), s.idle, s.gil, s.count)
                    for s in cap.stacks)
    threads = sorted(tuple(sorted(t.items())) for t in cap.threads)
    return cap.meta, threads, stacks


# ---- a real recording: renderings hold exactly its samples ----

def test_real_collapsed(snakescope, split_capture, tmp_path):
    cap = Capture.load(split_capture)
    got = parse_collapsed(report(snakescope, split_capture, "collapsed", tmp_path / "out.collapsed"))
    expected = expected_collapsed(cap)
    differ = {k: (got.get(k), expected.get(k)) for k in got.keys() | expected.keys() if got.get(k) != expected.get(k)}
    assert not differ, f"stack: (collapsed, from the JSON): {differ}"
    assert sum(got.values()) == sum(expected.values())


def test_real_speedscope(snakescope, split_capture, tmp_path):
    cap = Capture.load(split_capture)
    text = report(snakescope, split_capture, "speedscope", tmp_path / "out.speedscope.json")
    assert '"$schema": "https://www.speedscope.app/file-format-schema.json"' in text \
        or '"$schema":"https://www.speedscope.app/file-format-schema.json"' in text
    check_speedscope(json.loads(text), cap)


def test_real_flamegraph(snakescope, split_capture, tmp_path):
    check_svg(report(snakescope, split_capture, "flamegraph", tmp_path / "out.svg"),
              ["heavy", "light", "work"])


def test_real_json_round_trip(snakescope, split_capture, tmp_path):
    out = tmp_path / "again.json"
    report(snakescope, split_capture, "json", out)
    again, original = _content(Capture.load(out)), _content(Capture.load(split_capture))
    assert again[1:] == original[1:]
    # Exact float round trips are pinned by test_json_round_trip_floats_exact;
    # here recorded floats (random digits) only need to agree closely.
    assert again[0].keys() == original[0].keys()
    for key, value in original[0].items():
        if isinstance(value, float):
            assert again[0][key] == pytest.approx(value, rel=1e-12), key
        else:
            assert again[0][key] == value, key


@pytest.mark.parametrize("value", [2.8561861631745282, 1795309289.5541837,
                                   1795309289.8621507, 1795309289.1785207, 0.1, 1e-300])
def test_json_round_trip_floats_exact(snakescope, tmp_path, value):
    # docs/formats.md: "converting later loses nothing". These values are
    # ones a JSON reader without correctly rounded float parsing gets wrong by
    # one unit in the last place (found by round-tripping random values).
    data = copy.deepcopy(SYNTHETIC)
    data["meta"]["duration_s"] = value
    data["meta"]["started_unix_s"] = value
    path = tmp_path / "floats.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "again.json"
    report(snakescope, path, "json", out)
    meta = json.loads(out.read_text(encoding="utf-8"))["meta"]
    assert (meta["duration_s"], meta["started_unix_s"]) == (value, value)


def test_real_text_names_heavy_and_light(snakescope, split_capture):
    text = report(snakescope, split_capture, "text")
    assert "heavy" in text and "light" in text, text
