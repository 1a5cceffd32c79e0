"""`snakescope diff BEFORE AFTER`: the book's phone book, list vs dict/set.

examples/phonebook_list.py and examples/phonebook_set.py are the same program
except for the data structures: the list version spends most of its time in
`find_phonenumber`'s linear scan (and `unique_names`' scan of a list), the set
version looks names up in a dict. Recording both with the real binary and
diffing them must show `find_phonenumber` collapsing, the total getting
faster, and `--fail-if-slower` failing only the other way round.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from support import QUICK_TIMEOUT, REPO, assert_clean_stderr, record, run

LIST = REPO / "examples" / "phonebook_list.py"
SET = REPO / "examples" / "phonebook_set.py"
SCALE = "1.2"  # the list version takes about 0.8 s of CPU here (~800 samples; 300 are needed)


@pytest.fixture(scope="module")
def captures(tmp_path_factory, snakescope, present_interpreters) -> tuple[Path, Path]:
    if not present_interpreters:
        pytest.skip("no supported interpreter present")
    python = present_interpreters[0].path
    tmp = tmp_path_factory.mktemp("diff")
    before, after = tmp / "list.json", tmp / "set.json"
    _, list_capture = record(snakescope, [python, str(LIST), SCALE], before)
    record(snakescope, [python, str(SET), SCALE], after)
    assert list_capture.total >= 300, "too few samples to compare"
    return before, after


def diff(snakescope: str, *args: str) -> tuple[int, str, str]:
    result = run([snakescope, "diff", *args], timeout=QUICK_TIMEOUT)
    assert "panicked" not in result.stderr, result.describe()
    return result.returncode, result.stdout, result.stderr


def test_json_shows_the_list_lookup_collapsing(snakescope, captures):
    before, after = captures
    status, out, err = diff(snakescope, str(before), str(after), "--format", "json")
    assert status == 0, err
    d = json.loads(out)
    assert d["format"] == "snakescope-diff"
    # The two scripts are different files: their functions are matched.
    assert d["matched_scripts"] == {"before": str(LIST), "after": str(SET), "lines_aligned": True}
    find = next(f for f in d["functions"] if f["name"] == "find_phonenumber")
    # The linear scan carries most of the list version's samples, and next
    # to nothing in the set version (one dict lookup per name).
    assert find["self"]["before_share"] > 0.4, find
    assert find["self"]["after_share"] < 0.1, find
    assert find["self"]["after_share"] < find["self"]["before_share"] / 5, find
    assert find["self"]["change_s"] < 0 and find["self"]["change_pct"] < -80, find
    # It is the biggest change, and the run as a whole got much faster.
    assert d["functions"][0]["name"] in ("find_phonenumber", "unique_names")
    assert d["total"]["after_s"] < d["total"]["before_s"] / 2, d["total"]
    # Shares and times are consistent with the samples.
    for side in ("before", "after"):
        s = d[side]
        assert s["time_s"] == pytest.approx(s["samples"] * s["sample_period_s"])
    # Lines are aligned by content: what stays in the list script's file
    # is what the set script no longer has.
    list_lines = [line for line in d["lines"] if line["file"] == str(LIST)]
    assert list_lines and all(line["after_samples"] == 0 for line in list_lines)


def test_text_puts_the_biggest_change_first(snakescope, captures):
    before, after = captures
    status, out, err = diff(snakescope, str(before), str(after))
    assert status == 0, err
    assert err == ""
    assert re.search(r"^  sampled .* \(-\d+\.\d%\)  faster$", out, re.M), out
    assert re.search(r"^  verdict  faster: ", out, re.M), out
    table = out.split("Functions by change in self time\n", 1)[1].split("\n\n", 1)[0]
    rows = table.splitlines()[1:]
    assert rows, out
    top = rows[0]
    assert "find_phonenumber" in top or "unique_names" in top, out
    find = next(r for r in rows if "find_phonenumber" in r)
    assert re.search(r"-\d+\.\d%\s+\d+\.\d% -> \d+\.\d%", find), find


def test_fail_if_slower(snakescope, captures):
    before, after = captures
    # list -> set is faster: passes even with no slack.
    status, _, err = diff(snakescope, str(before), str(after), "--fail-if-slower", "0")
    assert status == 0, err
    # set -> list is several times slower: fails with one line.
    status, out, err = diff(snakescope, str(after), str(before), "--fail-if-slower", "50")
    assert status == 1, err
    lines = err.splitlines()
    assert len(lines) == 1 and "slower" in lines[0] and "50" in lines[0], err
    assert "Functions by change" in out


def test_differential_flame_graph(snakescope, captures, tmp_path):
    before, after = captures
    svg = tmp_path / "diff.svg"
    result = run([snakescope, "diff", str(before), str(after), "--flamegraph", str(svg),
                  "--flamegraph-widths", "before", "--format", "json"],
                 timeout=QUICK_TIMEOUT)
    assert result.returncode == 0, result.describe()
    assert_clean_stderr(result)
    text = svg.read_text(encoding="utf-8")
    assert text.rstrip().endswith("</svg>")
    # find_phonenumber is drawn (the before's widths) and blue: it shrank.
    m = re.search(r"<title>find_phonenumber \([^<]*</title><rect [^>]*fill=\"rgb\((\d+),(\d+),(\d+)\)\"",
                  text)
    assert m, "no find_phonenumber box"
    r, _, b = map(int, m.groups())
    assert b > r, f"find_phonenumber should be blue, is rgb({r},_,{b})"
