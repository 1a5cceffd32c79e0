"""`snakescope advise`: the remedy for each hotspot, with runtime evidence.

Ground truth by construction: tests/advise_corpus/<rule>/slow.py holds the
problem its rule names (a `in` test on a list of 8,000 items, a string
attribute grown by `+=`, ...), on one known line, and fast.py the same
program with the book's remedy applied (same output). On each slow program
that rule's finding ranks first, on its hot line; on each fast one it is
absent. The corpus is advised once per session (two runs per pair, ~1 s
each). Operand facts are known by construction too (the list's length is
the program's n). --verify's ratios are timings, so no assertion compares
them with a number: the tests check the output comparison (a rewrite that
changes the output is rejected), that the ratio lies within its reported
spread, and the rewrite itself (the patch).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import RECORD_TIMEOUT, Result, assert_error, require_interpreter, run, script, target_env
from support.interpreters import OLDER, SUPPORTED
from support.paths import REPO

CORPUS = REPO / "tests" / "advise_corpus"
COMMAND = str(Path(sys.executable).with_name("snakescope"))
# rule -> text of its hot line in slow.py (ground truth: where the finding must point)
HOT_LINES = {
    "membership-list": "if w in known:",
    "local-alias": "out.append(math.sqrt(x) + math.sqrt(y))",
    "str-concat": 'self.html += f"<tr><td>{i}</td><td>{row}</td></tr>\\n"',
    "list-once": "return sum([i * i % 1009 + 300 for i in range(n)])",
    "gil-threads": "if n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1)):",
    "numpy-inplace": "field = field * 0.99 + target * 0.01",
    "float-loop": "total += 0.5 * speeds[i] * speeds[i] + 9.81 * heights[i]",
    "compile-candidate": "while b:",
    "float-list": "values.append((i * 7919 % 10007) * 0.001)",
    "bisect": "if v >= x:",
    "distinct-count": 'seen.add(f"visitor-{(i * 2654435761) % 1_000_003:09d}")',
    "serial-io": "with OPENER.open(url) as reply:",
    "slots": "return [Reading(i % 97, i % 24, (i * 7919) % 10007 / 100) for i in range(n)]",
    "pickled-args": "sums = pool.map(partial_sum, [(values, i) for i in range(TASKS)])",
}
# The finding's `before` when it is not the hot line (the remedy is elsewhere).
BEFORE = {
    "slots": "class Reading:",
    "gil-threads": "threads = [threading.Thread(target=count_primes, args=(i * step, (i + 1) * step, out, i))",
}
RULES = sorted(HOT_LINES)
# Programs with no remedy to offer: vectorised in-place numpy, one C call
# (hashing), an idle server.
NO_REMEDY = ["vectorised", "one_c_call", "idle_server"]


def advise(*args: str, cwd: Path) -> Result:
    return run([COMMAND, "advise", *args], cwd=cwd, env=target_env())


def line_of(path: Path, text: str) -> int:
    lines = path.read_text().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if line.strip() == text)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[tuple[str, str], dict]:
    """(rule, slow|fast) -> {capture, stdout, stderr, returncode}, advised once."""
    out = tmp_path_factory.mktemp("advise")
    results = {}
    for rule in RULES:
        for kind in ("slow", "fast"):
            capture = out / f"{rule}-{kind}.json"
            r = advise("-o", str(capture), str(CORPUS / rule / f"{kind}.py"), cwd=out)
            results[(rule, kind)] = {"capture": json.loads(capture.read_text()) if capture.exists()
                                     else None, "result": r, "path": capture}
    for name in NO_REMEDY:
        capture = out / f"{name}.json"
        r = advise("-o", str(capture), str(CORPUS / "_no_remedy" / f"{name}.py"), cwd=out)
        results[("_no_remedy", name)] = {"capture": json.loads(capture.read_text())
                                         if capture.exists() else None, "result": r}
    return results


def test_the_corpus_has_a_pair_per_rule():
    from snakescope._advise.rules import all_rules

    names = sorted(r.NAME for r in all_rules())
    assert names == RULES
    for rule in names:
        assert (CORPUS / rule / "slow.py").is_file() and (CORPUS / rule / "fast.py").is_file()


@pytest.mark.parametrize("rule", RULES)
def test_slow_program_ranks_its_rule_first(corpus, rule):
    done = corpus[(rule, "slow")]
    r = done["result"]
    assert r.returncode == 0, r.stderr
    items = done["capture"]["findings"]["items"]
    assert items, r.stderr
    top = items[0]
    slow = CORPUS / rule / "slow.py"
    assert top["rule"] == rule, r.stderr
    assert (Path(top["file"]).resolve(), top["line"]) == (slow.resolve(), line_of(slow, HOT_LINES[rule]))
    assert top["share"] >= done["capture"]["findings"]["threshold"]
    assert 0 < top["gain"] <= top["share"]  # Amdahl: never more than the hotspot
    assert top["evidence"] and top["remedy"] and top["chapter"].startswith("ch. ")
    assert top["before"].strip() == BEFORE.get(rule, HOT_LINES[rule])
    assert top["after"] != top["before"]
    # Printed on stderr (stdout is the program's), ranked.
    assert f"1. {top['title']}  [{rule}]" in r.stderr


@pytest.mark.parametrize("rule", RULES)
def test_fast_program_lacks_that_finding(corpus, rule):
    done = corpus[(rule, "fast")]
    assert done["result"].returncode == 0, done["result"].stderr
    rules = [f["rule"] for f in done["capture"]["findings"]["items"]]
    assert rule not in rules, done["result"].stderr


@pytest.mark.parametrize("rule", RULES)
def test_program_output_is_unchanged(corpus, rule):
    for kind in ("slow", "fast"):
        plain = subprocess.run([sys.executable, str(CORPUS / rule / f"{kind}.py")],
                               capture_output=True, text=True, timeout=RECORD_TIMEOUT)
        assert corpus[(rule, kind)]["result"].stdout == plain.stdout


@pytest.mark.parametrize("name", NO_REMEDY)
def test_no_remedy_programs_get_no_finding(corpus, name):
    done = corpus[("_no_remedy", name)]
    assert done["result"].returncode == 0, done["result"].stderr
    section = done["capture"]["findings"]
    assert section["items"] == [], done["result"].stderr
    assert sorted(section["rules"]) == RULES
    assert "no finding above 5 %" in done["result"].stderr


def test_operand_facts_are_the_runtime_values(corpus):
    """The vocabulary is a list of n = 8,000 items; the page a str of
    len("<table>\\n") + the rows so far (known from the program)."""
    top = corpus[("membership-list", "slow")]["capture"]["findings"]["items"][0]
    assert any("`known` was a list of 8,000 items" in e for e in top["evidence"]), top["evidence"]
    assert any("CONTAINS_OP" in e for e in top["evidence"])
    concat = corpus[("str-concat", "slow")]["capture"]["findings"]["items"][0]
    assert any("`self.html` was a str of" in e or "BINARY_OP_ADD_UNICODE" in e
               for e in concat["evidence"]), concat["evidence"]


# The operand sampler's looks run in the main thread as pending calls on 3.8
# and 3.13+, and from its own thread on 3.9-3.12 (where a pending call waits
# for a GIL handover) and whenever the main thread is blocked: the same facts
# either way. serial-io's evidence is taken while the main thread is blocked.
LOOKS = [i for i in SUPPORTED + OLDER if i.id in {"pyenv-3.8", "pyenv-3.12", "pyenv-3.13"}]
LOOKED = {"membership-list": "`known` was a list of 8,000 items", "serial-io": "looks of the waiting sampler"}


@pytest.mark.parametrize("python", LOOKS, ids=[i.id for i in LOOKS])
@pytest.mark.parametrize("rule", sorted(LOOKED))
def test_operand_facts_wherever_the_looks_run(python, rule, tmp_path):
    python = require_interpreter(python)
    capture = tmp_path / "advised.json"
    r = advise("--python", python.path, "-o", str(capture), str(CORPUS / rule / "slow.py"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    top = json.loads(capture.read_text())["findings"]["items"][0]
    assert top["rule"] == rule, r.stderr
    assert any(LOOKED[rule] in e for e in top["evidence"]), top["evidence"]


def test_thread_and_numpy_evidence(corpus):
    """Four threads of pure-Python work; a 600x600 float64 array rebuilt by
    three operators on every pass (known from the programs)."""
    threads = corpus[("gil-threads", "slow")]["capture"]["findings"]["items"][0]
    assert threads["evidence"][0].startswith("4 threads ran on a CPU"), threads["evidence"]
    arrays = corpus[("numpy-inplace", "slow")]["capture"]["findings"]["items"][0]
    assert any("`field` was a numpy.ndarray of 600×600 float64" in e
               for e in arrays["evidence"]), arrays["evidence"]
    assert arrays["after"].split("\n") == ["        field *= 0.99", "        field += target * 0.01"]
    distinct = corpus[("distinct-count", "slow")]["capture"]["findings"]["items"][0]
    assert distinct["resource"] == "memory"
    assert any("`seen` was a set of" in e for e in distinct["evidence"]), distinct["evidence"]
    search = corpus[("bisect", "slow")]["capture"]["findings"]["items"][0]
    assert any("`values` was a list of 10,000 items" in e for e in search["evidence"])
    assert any("non-decreasing at 64 evenly spaced positions" in e for e in search["evidence"])
    floats = corpus[("float-loop", "slow")]["capture"]["findings"]["items"][0]
    assert any("`speeds` was a list of 200,000 items" in e for e in floats["evidence"])
    assert floats["after"].endswith("total += float((0.5 * speeds * speeds + 9.81 * heights).sum())"
                                    "  # instead of the loop")


def test_threads_of_child_processes_do_not_share_a_gil(corpus):
    """Each process has its own GIL, and `run` follows child processes: the
    gil-threads rule reads the main process's threads only. The slow
    version's capture (four threads of one process) fires it; the same
    capture with those threads moved to four child processes does not (as
    the fast version's Pool workers once did on a loaded machine)."""
    import copy

    from snakescope._advise._evidence import Evidence
    from snakescope._advise.rules import gil_threads

    cap = copy.deepcopy(corpus[("gil-threads", "slow")]["capture"])
    assert gil_threads.check_program(Evidence(cap), 0.05)
    main = cap["meta"]["pid"]
    for k, t in enumerate(cap["threads"]):
        t["pid"] = main if t["name"] == "MainThread" else main + 1 + k
    assert not gil_threads.check_program(Evidence(cap), 0.05)


def test_memory_finding_names_the_bytes(corpus):
    top = corpus[("list-once", "slow")]["capture"]["findings"]["items"][0]
    assert top["resource"] == "memory"
    # 1.5 M ints of 28 bytes and the list's 8-byte slots: over 40 MB at the peak.
    assert any("MB at the memory peak" in e for e in top["evidence"]), top["evidence"]


def test_reports_show_the_findings(corpus, snakescope, tmp_path):
    capture = corpus[("membership-list", "slow")]["path"]
    text = subprocess.run([snakescope, "report", str(capture), "--format", "text"],
                          capture_output=True, text=True, timeout=RECORD_TIMEOUT)
    assert text.returncode == 0, text.stderr
    assert "\nFindings\n  1. membership test on a list: use a set" in text.stdout
    html = tmp_path / "r.html"
    r = subprocess.run([snakescope, "report", str(capture), "-o", str(html)],
                       capture_output=True, text=True, timeout=RECORD_TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert '"findings":{"threshold":0.05' in html.read_text()
    none = corpus[("membership-list", "fast")]["path"]
    text = subprocess.run([snakescope, "report", str(none), "--format", "text"],
                          capture_output=True, text=True, timeout=RECORD_TIMEOUT)
    assert "\nFindings\n  no finding above 5 %" in text.stdout


def test_advise_a_saved_capture(tmp_path):
    """A capture of `run --opcodes` (no operand facts): the instruction
    evidence alone makes local-alias fire, printed on stdout, and the note
    says what is missing."""
    capture = tmp_path / "run.json"
    r = subprocess.run([COMMAND, "run", "--opcodes", "-q", "-o", str(capture),
                        str(CORPUS / "local-alias" / "slow.py")], capture_output=True, text=True,
                       env=target_env(), timeout=RECORD_TIMEOUT)
    assert r.returncode == 0, r.stderr
    before = capture.read_bytes()
    r = advise(str(capture), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "[local-alias]" in r.stdout
    assert "note: no operand facts" in r.stdout
    assert capture.read_bytes() == before  # the user's capture is not rewritten


def test_exit_status_passes_through(tmp_path):
    r = advise(script("exit3.py"), cwd=tmp_path)
    plain = subprocess.run([sys.executable, script("exit3.py")], capture_output=True, text=True)
    assert r.returncode == plain.returncode == 3
    assert r.stdout == plain.stdout


def test_a_module_and_code_are_advised_as_run_takes_them(tmp_path):
    # -m: the membership pair's slow.py imported as a module from its
    # directory: the same finding on the same line as advising the script.
    slow = CORPUS / "membership-list" / "slow.py"
    r = advise("-o", str(tmp_path / "m.json"), "-m", "slow", cwd=slow.parent)
    assert r.returncode == 0, r.stderr
    top = json.loads((tmp_path / "m.json").read_text())["findings"]["items"][0]
    assert top["rule"] == "membership-list"
    assert (Path(top["file"]).resolve(), top["line"]) == (slow.resolve(), line_of(slow, HOT_LINES["membership-list"]))
    # -c: the program's output and exit status, and findings printed.
    r = advise("-c", "import sys; print('hi', sys.argv[1:]); sys.exit(4)", "a", "-b", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (4, "hi ['a', '-b']\n"), r.stderr
    assert "Findings" in r.stderr
    error, hint = assert_error(advise("--verify", "-m", "slow", cwd=slow.parent))
    assert "-m / -c" in error and "--verify" in hint


def test_bad_input_is_one_line(tmp_path):
    error, hint = assert_error(advise("nope.py", cwd=tmp_path))
    assert "`nope.py` not found" in error and hint
    capture = tmp_path / "x.json"
    capture.write_text("{}")
    error, _ = assert_error(advise("--verify", str(capture), cwd=tmp_path))
    assert "--verify runs the program" in error
    error, _ = assert_error(advise("--threshold", "0", "x.py", cwd=tmp_path), strict=False)
    assert "not a percentage" in error
    # The rules' process starts while the program runs; when `run` refuses
    # (here: no such interpreter), its one error line is the only one.
    script = tmp_path / "ok.py"
    script.write_text("print('hi')\n")
    error, hint = assert_error(advise("--python", str(tmp_path / "no-python"), str(script), cwd=tmp_path))
    assert "no-python" in error and hint


# --------------------------------------------------------------------------
# --verify
# --------------------------------------------------------------------------


def verified(path: Path, tmp_path: Path, *extra: str) -> tuple[dict, str]:
    capture, patch = tmp_path / "v.json", tmp_path / "v.patch"
    r = advise("--verify", "--repeat", "3", "--write-patch", str(patch), "-o", str(capture),
               *extra, str(path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    top = json.loads(capture.read_text())["findings"]["items"][0]
    return top, patch.read_text() if patch.exists() else ""


def test_verify_membership_rewrite_is_measured(tmp_path):
    slow = CORPUS / "membership-list" / "slow.py"
    original = slow.read_bytes()
    top, patch = verified(slow, tmp_path)
    v = top["verified"]
    assert v["status"] in ("faster", "no gain"), v
    assert v["repetitions"] == 3
    assert v["ratio_low"] <= v["ratio"] <= v["ratio_high"]
    assert "+    known_set = set(known)\n" in v["patch"]
    assert "-        if w in known:\n+        if w in known_set:\n" in v["patch"]
    if v["status"] == "faster":
        assert patch == v["patch"]
    assert slow.read_bytes() == original  # never modified


def test_verify_join_inplace_and_generator_rewrites_keep_the_output(tmp_path):
    top, _ = verified(CORPUS / "str-concat" / "slow.py", tmp_path)
    assert top["verified"]["status"] in ("faster", "no gain"), top["verified"]
    assert "_snakescope_parts.append(" in top["verified"]["patch"]
    top, _ = verified(CORPUS / "numpy-inplace" / "slow.py", tmp_path)
    assert top["verified"]["status"] in ("faster", "no gain"), top["verified"]
    assert "-        field = field * 0.99 + target * 0.01\n+        field *= 0.99\n" \
        "+        field += target * 0.01\n" in top["verified"]["patch"]
    top, _ = verified(CORPUS / "list-once" / "slow.py", tmp_path)
    v = top["verified"]
    # Peak RSS is memory, not time: 1.5 M live ints against one at a time.
    assert v["status"] == "smaller", v
    assert v["rss_ratio"] > 1.5
    assert "+    return sum(i * i % 1009 + 300 for i in range(n))" in v["patch"]


def test_verify_rejects_a_rewrite_that_changes_the_output(tmp_path):
    top, patch = verified(CORPUS / "_rejected" / "grows_in_loop.py", tmp_path)
    assert top["rule"] == "membership-list"
    assert top["verified"]["status"] == "rejected", top["verified"]
    assert patch == ""  # a rejected rewrite is not written


def test_diff_says_which_findings_the_change_resolved(corpus, snakescope, tmp_path):
    # Ground truth: fast.py is slow.py with its rule's remedy applied, so
    # `diff` of their advised captures lists that finding as resolved (the two
    # scripts are matched by the captures' command lines), and nothing new.
    # The fast one runs on 50 times the data: at the corpus's size it ends in
    # ~10 ms, and one run in six took no sample (diff refuses an empty side).
    slow, fast = corpus[("membership-list", "slow")]["path"], tmp_path / "fast.json"
    r = advise("-o", str(fast), str(CORPUS / "membership-list" / "fast.py"), "400000", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run([snakescope, "diff", str(slow), str(fast)], env=target_env())
    assert r.returncode == 0, r.stderr
    section = r.stdout[r.stdout.index("Findings (snakescope advise)"):]
    resolved = [line for line in section.splitlines() if line.strip().startswith("resolved")]
    assert len(resolved) == 1 and "[membership-list]" in resolved[0], section
    assert not any(line.strip().startswith("new") for line in section.splitlines()), section
    data = json.loads(run([snakescope, "diff", "--format", "json", str(slow), str(fast)],
                          env=target_env()).stdout)
    assert [f["rule"] for f in data["findings"]["resolved"]] == ["membership-list"]
    assert data["findings"]["new"] == []
