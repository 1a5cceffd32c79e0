"""Output formats (docs/formats.md): collapsed stacks, speedscope, SVG."""

from __future__ import annotations

import re
from typing import Any, Iterable

from .capture import Capture


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
COLLAPSED_LINE = re.compile(r"^(?P<stack>thread \((?P<tid>\d+)\)(?:: [^;]*)?(?:;[^;]+)*) (?P<count>\d+)$")


def _sanitize(text: str) -> str:
    return text.replace(";", ":")


def frame_label(frame: dict) -> str:
    """A frame in collapsed stacks: `qualname (file:line)` or `qualname (file)`."""
    name = _sanitize(frame["qualname"] if frame["qualname"] is not None else frame["function"])
    file = _sanitize(frame["file"])
    return f"{name} ({file}:{frame['line']})" if frame["line"] else f"{name} ({file})"


def thread_label(thread: dict) -> str:
    if thread["name"] is None:
        return f"thread ({thread['tid']})"
    return f"thread ({thread['tid']}): {_sanitize(thread['name'])}"


# snakescope's own modules (crates/snakescope-model/src/own.rs): every view
# read from a capture file leaves their frames out, and a stack left empty.
# Any module of the `snakescope/_advise` package is its own too.
OWN_MODULES = {"__init__.py", "__main__.py", "_api.py", "_asyncprobe.py", "_attach.py", "_budget.py", "_exact.py",
               "_handover.py", "_hooks.py", "_ipython.py", "_lines.py", "_memory.py", "_opcodes.py", "_pytest.py",
               "_run.py", "_timeit.py"}


def is_own_frame(frame: dict) -> bool:
    parts = frame["file"].split("/")
    if "_advise" in parts[:-1]:
        at = len(parts) - 2 - parts[:-1][::-1].index("_advise")
        if at > 0 and parts[at - 1] == "snakescope" and parts[-1].endswith(".py"):
            return True
    return len(parts) >= 2 and parts[-2] == "snakescope" and parts[-1] in OWN_MODULES


def expected_collapsed(capture: Capture) -> dict[str, int]:
    """The collapsed stacks docs/formats.md prescribes for a capture
    (snakescope's own frames left out, as every view does; a sample taken
    while the target's start-up imported the package has some)."""
    out: dict[str, int] = {}
    for s in capture.stacks:
        frames = [f for f in s.frames if not is_own_frame(f)]
        if not frames:
            continue
        text = ";".join([thread_label(s.thread), *map(frame_label, frames)])
        out[text] = out.get(text, 0) + s.count
    return out


def parse_collapsed(text: str) -> dict[str, int]:
    """Parses collapsed stacks, checking the line syntax and sort order."""
    lines = text.splitlines()
    assert lines, "collapsed output is empty"
    stacks: dict[str, int] = {}
    for line in lines:
        m = COLLAPSED_LINE.match(line)
        assert m, f"not a collapsed-stack line: {line!r}"
        assert m["stack"] not in stacks, f"stack printed twice: {line!r}"
        assert int(m["count"]) > 0, f"zero count: {line!r}"
        stacks[m["stack"]] = int(m["count"])
    assert list(stacks) == sorted(stacks), "collapsed lines are not sorted"
    return stacks


def check_speedscope(data: Any, capture: Capture | None = None) -> dict[str, list]:
    """Checks a speedscope file; returns {profile name: [(names root first, weight)]}.

    With a capture, also checks it holds exactly the capture's samples, per
    thread, as docs/formats.md describes.
    """
    assert isinstance(data, dict), "speedscope file is not an object"
    assert data.get("$schema") == SPEEDSCOPE_SCHEMA, f"$schema is {data.get('$schema')!r}"
    frames = data["shared"]["frames"]
    assert isinstance(frames, list) and frames, "no shared frames"
    for f in frames:
        assert isinstance(f.get("name"), str) and isinstance(f.get("file"), str), f"frame {f}"
        assert "line" not in f or (_is_int(f["line"]) and f["line"] > 0), f"frame {f}"
    profiles = data["profiles"]
    assert isinstance(profiles, list) and profiles, "no profiles"
    out: dict[str, list] = {}
    for p in profiles:
        assert p["type"] == "sampled" and p["unit"] == "none", f"profile {p.get('name')}"
        assert len(p["samples"]) == len(p["weights"]) > 0, f"profile {p['name']}"
        assert all(0 <= i < len(frames) for s in p["samples"] for i in s), f"profile {p['name']}"
        assert sum(p["weights"]) == p["endValue"] - p["startValue"], f"profile {p['name']}"
        assert p["startValue"] == 0, f"profile {p['name']}"
        assert p["name"] not in out, f"two profiles named {p['name']}"
        out[p["name"]] = [(tuple((frames[i]["name"], frames[i]["file"], frames[i].get("line"))
                                 for i in s), w) for s, w in zip(p["samples"], p["weights"])]
    biggest = max(range(len(profiles)), key=lambda i: profiles[i]["endValue"])
    assert profiles[data["activeProfileIndex"]]["endValue"] == profiles[biggest]["endValue"], \
        "the profile with the most samples is not the one that opens first"
    if capture is not None:
        want: dict[str, dict] = {}
        for s in capture.stacks:
            t = s.thread
            name = f"{t['name'] if t['name'] is not None else 'thread'} (tid {t['tid']})"
            key = tuple((f["qualname"] if f["qualname"] is not None else f["function"],
                         f["file"], f["line"] or None) for f in s.frames)
            want.setdefault(name, {})
            want[name][key] = want[name].get(key, 0) + s.count
        got = {}
        for name, samples in out.items():
            got[name] = {}
            for key, w in samples:
                got[name][key] = got[name].get(key, 0) + w
        assert got == want, "speedscope profiles do not hold the capture's samples"
    return out


def check_svg(text: str, names: Iterable[str]) -> None:
    """A well-formed SVG flame graph mentioning each of `names`."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag in ("svg", "{http://www.w3.org/2000/svg}svg"), f"root element is {root.tag}"
    all_text = " ".join(t for el in root.iter() for t in (el.text, el.tail) if t)
    assert "snakescope" in all_text, "the flame graph's title does not name snakescope"
    for name in names:
        assert name in all_text, f"{name!r} does not appear in the flame graph"

