"""Serial blocking I/O in a loop -> overlap it (ch. 8, Asynchronous I/O: the
serial crawler against its asyncio and gevent versions).

A program-wide rule on the waiting sampler's facts (``_waits.py``: every
40 ms, then 250 ms, each thread's time blocked, neither on a CPU nor runnable, from the
kernel's clocks, with its stack; Linux). Fires when all hold: the program's
threads used at most half a CPU over the time watched (their CPU time, not
the process's, which counts the profiler's own thread: it mostly waited); one
thread was blocked (4/5 of an interval or more) for at least the threshold's
share of the wall time with a line of the program's own code in a ``for``
loop on its stack (the innermost such frame: the finding's line); and the
call it waited in (the innermost frame's line) is a client's: ``sleep`` in
the program's own code outside an ``except`` handler (latency stood in; in a
handler it is a back-off); connecting or sending (``connect``,
``create_connection``, ``getaddrinfo``, ``urlopen``, ``send*``); or waiting
for a reply (``recv*``, ``read*``, ``getresponse``, ``select``, ``poll``)
when a request is made on every pass (the stack goes through a client
library: http.client, urllib.request, urllib3, requests, httpx, ftplib,
smtplib, xmlrpc; or the loop's body calls ``connect``, ``send``,
``sendall``, ``request``, ``urlopen``). A loop waiting for events (a
server's select or accept), a lock, a queue, a pool's results or a child
does not fire. Gain: the waiting's share x (1 - 1/N), N the loop's items (the
operand sampler's length of the iterated name, or a literal); without N, the
waiting's share.
"""

import ast
import os
import sys
import sysconfig
from collections import Counter

from .._evidence import HotLine, _walk_same_statement, read_source
from .._finding import Finding, pct

NAME = "serial-io"
TITLE = "blocking I/O one request after another in a loop: overlap it"
CHAPTER = "ch. 8, Asynchronous I/O"
MAX_CPUS = 0.5
OUTBOUND = {"connect", "connect_ex", "create_connection", "getaddrinfo", "urlopen", "send",
            "sendall", "sendto", "sendfile"}
REPLY = {"recv", "recv_into", "recvfrom", "recvfrom_into", "recvmsg", "read", "readinto",
         "readline", "getresponse", "select", "poll", "do_handshake"}
REQUESTS = {"connect", "create_connection", "send", "sendall", "sendto", "request", "urlopen"}
CLIENTS = ("http/client.py", "urllib/request.py", "/urllib3/", "/requests/", "/httpx/",
           "ftplib.py", "smtplib.py", "xmlrpc/client.py")
_LIBRARY = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")})


def check_program(ev, threshold):
    waits, wall = ev.operands.get("waits") or {}, ev.capture.get("meta", {}).get("duration_s")
    # The program's threads' CPU time over the time watched (the process's user + sys time
    # would count the profiler's own sampling thread too).
    cpu = sum(t["cpu_s"] for t in waits.get("threads", []))
    watched = max((t["wall_s"] for t in waits.get("threads", [])), default=0)
    if not waits.get("rows") or not wall or not watched or cpu > MAX_CPUS * watched:
        return []
    sources, threads = {}, {}
    for row in waits["rows"]:
        site = _site(row["stack"], sources)
        call = site and _blocking(row["stack"], site, sources)
        if call:
            done = threads.setdefault((site[:2], row["ident"]), {
                "site": site, "thread": row["thread"], "waited": 0.0, "looks": 0, "calls": Counter()})
            done["waited"] += row["waited_s"]
            done["looks"] += row["looks"]
            done["calls"][call] += row["waited_s"]
    best = {}  # per line, the thread that waited there longest
    for (where, _), done in sorted(threads.items(), key=lambda item: item[1]["waited"]):
        best[where] = done
    return [_finding(ev, done, min(done["waited"] / wall, 1.0), cpu, watched)
            for done in best.values() if done["waited"] >= threshold * wall]


def _own(file):
    return not file.startswith(_LIBRARY) and not file.startswith("<")


def _site(stack, sources):
    """(file, line, function, source, loop): the innermost frame of the
    program's own code whose line is in a `for` loop, else None."""
    for file, line, function in reversed(stack):
        source = read_source(file, sources) if _own(file) else None
        stmt = source.statements_at(line) if source else []
        loop = source.enclosing_loop(stmt[0]) if stmt else None
        if isinstance(loop, ast.For):
            return file, line, function, source, loop
    return None


def _calls(nodes):
    for node in nodes:
        if isinstance(node, ast.Call):
            func = node.func
            yield func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def _blocking(stack, site, sources):
    """The client call the thread waited in (`name (where)`), else None."""
    file, line, function = stack[-1]
    source = read_source(file, sources)
    stmt = source.statements_at(line) if source else []
    names = set(_calls(_walk_same_statement(stmt[0]))) if stmt else set()
    where = f"({os.path.basename(file)}:{line} in {function})"
    if "sleep" in names and _own(file) and not any(
            isinstance(up, ast.ExceptHandler) for up in source.ancestors(stmt[0])):
        return f"`sleep` {where}"
    if names & OUTBOUND:
        return f"`{min(names & OUTBOUND)}` {where}"
    if names & REPLY:
        through = any(not _own(f) and any(c in f for c in CLIENTS) for f, _, _ in stack)
        body = set(_calls(n for s in site[4].body for n in ast.walk(s)))
        if through or body & REQUESTS:
            return f"`{min(names & REPLY)}` {where}"
    return None


def _items(ev, site):
    """How many items the loop goes over, when known (a literal, or the
    operand sampler's length of the iterated variable)."""
    file, _, function, _, loop = site
    it = loop.iter
    if isinstance(it, (ast.List, ast.Tuple, ast.Set)):
        return len(it.elts)
    if isinstance(it, ast.Call) and getattr(it.func, "id", None) == "range" and all(
            isinstance(a, ast.Constant) and isinstance(a.value, int) for a in it.args):
        return len(range(*(a.value for a in it.args)))
    for row in ev.operands.get("functions", []) if isinstance(it, ast.Name) else ():
        if (row["file"], row["function"]) == (file, function):
            return row["names"].get(it.id, {}).get("len_max")
    return None


def _finding(ev, done, share, cpu, watched):
    file, line, function, source, loop = site = done["site"]
    hot = ev.lines.get((file, line)) or HotLine(file, line, function)
    hot.source, n = source, _items(ev, site)
    call, over = done["calls"].most_common(1)[0][0], source.segment(loop.iter)
    each = f", {n} items ({done['waited'] / n * 1000:.0f} ms of waiting each)" if n else ""
    evidence = [f"the program's threads used {cpu / watched:.2f} CPUs ({cpu:.2f} s on a CPU in the "
                f"{watched:.2f} s watched): it mostly waited",
                f"thread {done['thread']} was blocked {done['waited']:.2f} s here, {pct(share)} of "
                f"the run's wall time ({done['looks']} looks of the waiting sampler), in {call}",
                f"one request after another: in a `for` loop over `{over[:60]}`{each}"]
    gain = share * (1 - 1 / n) if n else share
    pad = source.lines[loop.lineno - 1][: loop.col_offset]
    after = (f"{pad}def one({source.segment(loop.target)}):  # the loop's body, for one item\n"
             f"{pad}    ...\n{pad}with concurrent.futures.ThreadPoolExecutor({n or ''}) as pool:\n"
             f"{pad}    results = list(pool.map(one, {over}))  # the waits overlap")
    latency = " (if it stands for latency, not a deliberate rate limit)" if "`sleep`" in call else ""
    return Finding(
        sys.modules[__name__], hot, share=share, evidence=evidence,
        remedy=(f"Overlap the waits instead of making them one after another{latency}: a thread "
                "pool (concurrent.futures.ThreadPoolExecutor) for a blocking library, or asyncio "
                "(asyncio.gather over an async client such as aiohttp); the loop then waits about "
                "as long as its slowest request, not the sum."),
        before=source.lines[line - 1].rstrip(), after=after, gain=gain,
        gain_text=f"up to {pct(gain)} of the run time (the {pct(share)} waited here; overlapped, "
                  f"about one request's wait is left)",
    )
