"""IPython and Jupyter: ``%load_ext snakescope``, then

    %snakescope [options] statement
    %%snakescope [options]
    cell body

Options: ``--exact`` (every call, cProfile's accounting), ``--lines FUNC``
(repeatable: time a function's lines; a name from the namespace or a
``module:pattern``), ``--memory`` (allocations too), ``--rate HZ``,
``-o FILE`` (also write the capture or report; the format from the name),
``--text`` (the text report even where HTML can be shown).

The result is displayed with both representations: a notebook shows the
HTML report (the same page as ``snakescope report --format html``) inside a
sandboxed ``<iframe srcdoc>``, where its script and style cannot touch the
notebook's; terminal IPython prints the text report. Code typed into cells
has no file on disk: its source, which IPython keeps in ``linecache``, is
handed to the report's annotated-source view.
"""

import html
import linecache
import sys

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from snakescope._api import Profiler

# The report's frame: tall enough for the header and the flame graph; the
# reader can drag it taller.
_FRAME_STYLE = "width:100%;height:720px;border:1px solid #ccc;resize:vertical;overflow:auto"


def load(ipython):
    ipython.register_magics(SnakescopeMagics)


@magics_class
class SnakescopeMagics(Magics):
    @line_cell_magic
    def snakescope(self, line, cell=None):
        """Profile a statement (``%snakescope f()``) or a cell (``%%snakescope``).

        Options: --exact, --lines FUNC (repeatable), --memory, --rate HZ,
        -o FILE, --text. See ``docs/integrations/ipython.md``."""
        __tracebackhide__ = True  # IPython leaves this frame out of tracebacks
        opts, rest = self.parse_options(line, "o:", "exact", "lines=", "memory", "rate=", "text",
                                        list_all=True, posix=False, strict=False)
        if cell is None:
            source = rest
            if not source.strip():
                raise UsageError("%snakescope needs a statement to profile: %snakescope f() "
                                 "(or %%snakescope on a cell's first line)")
        else:
            if rest.strip():
                raise UsageError(f"%%snakescope takes options only, not {rest.strip()!r}: "
                                 "the code goes in the cell's body")
            source = cell
        profiler = _profiler(opts, self.shell.user_ns)
        _run(self.shell, source, profiler)
        _show(profiler.capture(), output=_unquoted(_one(opts, "o")), text_only="text" in opts)


def _profiler(opts, namespace):
    """The Profiler the options ask for (UsageError with one line when they do not fit)."""
    exact = "exact" in opts
    memory = "memory" in opts
    rate = _one(opts, "rate")
    if exact and (memory or rate is not None):
        raise UsageError("--exact measures every call, without sampling: "
                         "--memory and --rate need sampling (leave out --exact)")
    kwargs = {"exact": exact, "memory": memory}
    if rate is not None:
        try:
            kwargs["rate_hz"] = float(rate)
        except ValueError:
            raise UsageError(f"--rate takes samples per second, like --rate 1000, not {rate!r}") from None
    if "lines" in opts:
        kwargs["lines"] = [_line_target(name, namespace) for name in opts["lines"]]
    return Profiler(**kwargs)


def _one(opts, name):
    values = opts.get(name)
    if values is None:
        return None
    if len(values) > 1:
        raise UsageError(f"-{'-' if len(name) > 1 else ''}{name} is given more than once")
    return values[0]


def _unquoted(path):
    """``-o "my report.html"``: IPython's option parser keeps the quotes."""
    if path and len(path) > 1 and path[0] == path[-1] and path[0] in "'\"":
        return path[1:-1]
    return path


def _line_target(name, namespace):
    """A function named in the namespace (``f``, ``obj.method``), else a
    ``module:pattern`` that ``Profiler(lines=...)`` matches by name."""
    if ":" in name:
        return name
    head, *attrs = name.split(".")
    if head not in namespace:
        raise UsageError(f"--lines {name}: no {head!r} in the namespace "
                         "(give a function defined here, or module:function)")
    value = namespace[head]
    for attr in attrs:
        try:
            value = getattr(value, attr)
        except AttributeError:
            raise UsageError(f"--lines {name}: {type(value).__name__} has no attribute {attr!r}") from None
    return value


def _compile(shell, source):
    """The code of `source` after IPython's transformations (``!cmd``,
    ``%magic``), under a cell name whose text linecache holds, as for any
    cell: tracebacks and the report show its lines."""
    transformed = shell.transform_cell(source)
    number = shell.execution_count
    try:
        name = shell.compile.cache(transformed, number, raw_code=source)
    except TypeError:  # IPython 7: cache(code, number)
        name = shell.compile.cache(transformed, number)
    return shell.compile(transformed, name, "exec")


def _run(shell, source, profiler):
    __tracebackhide__ = True
    code = _compile(shell, source)
    profiler._hide_callers()  # IPython's and the kernel's frames below the magic
    profiler._own_files.append(__file__)
    try:
        profiler.start()
    except (RuntimeError, ValueError) as exc:  # e.g. another Profiler is running
        raise UsageError(f"snakescope: {exc}") from None
    try:
        exec(code, shell.user_global_ns, shell.user_ns)
    finally:
        profiler.stop()  # and an exception goes on to IPython, shown as without the magic


def cell_sources():
    """The source of the code that has no file, by the name it runs under:
    what IPython put in linecache for its cells (an entry without a
    modification time), as the HTML report's source view needs it."""
    return {name: "".join(entry[2]) for name, entry in list(linecache.cache.items())
            if len(entry) == 4 and entry[1] is None and entry[2]}


def report_html(capture):
    """The HTML report of `capture`, with the cells' sources."""
    return capture.render("html", sources=cell_sources()).decode()


def _show(capture, output, text_only):
    if output:
        _save(capture, output)
    text = capture.render("text").decode()
    if text_only:
        print(text, end="")
        return
    from IPython.display import display

    frame = (f'<iframe class="snakescope-report" sandbox="allow-scripts" style="{_FRAME_STYLE}" '
             f'srcdoc="{html.escape(report_html(capture), quote=True)}"></iframe>')
    display({"text/html": frame, "text/plain": text}, raw=True)


def _save(capture, path):
    try:
        if path.lower().endswith((".html", ".htm")):
            with open(path, "wb") as f:
                f.write(capture.render("html", path, sources=cell_sources()))
        else:
            capture.save(path)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"snakescope: cannot write {path}: {exc}", file=sys.stderr)
        return
    print(f"snakescope: wrote {path}", file=sys.stderr)
