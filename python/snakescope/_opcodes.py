"""The interpreter's opcode table, as its own ``dis`` and ``opcode`` modules say.

``snakescope record --opcodes`` runs this file with the target's interpreter
(``python -I -c``, so it must import nothing of snakescope), and ``run
--opcodes`` calls :func:`table_json` in the program's interpreter at the end.
Specialised instructions (3.11+) get the names ``dis`` shows with
``adaptive=True``; each opcode's cache entries are those of its generic form,
as ``dis`` skips them. Works from 3.8 on.
"""

import dis
import opcode
import sys


def _cache_entries(names, generic):
    entries = getattr(opcode, "_inline_cache_entries", None)
    if hasattr(entries, "items"):  # 3.13+: by name (3.15: a frozendict)
        return [int(entries.get(names[g], 0)) for g in generic]
    if entries is not None:  # 3.11, 3.12: by number
        return [int(entries[g]) if g < len(entries) else 0 for g in generic]
    return [0] * 256  # 3.8-3.10: no inline caches


def table():
    names = list(getattr(dis, "_all_opname", opcode.opname))[:256]
    names += ["<%d>" % op for op in range(len(names), 256)]
    opmap = dict(getattr(dis, "_all_opmap", opcode.opmap))
    deopt = getattr(dis, "deoptmap", None)
    if deopt is None:  # 3.11's dis computes it the same way, unnamed
        families = getattr(opcode, "_specializations", {})
        deopt = {spec: base for base, family in families.items() for spec in family}
    generic = [opmap.get(deopt.get(name), op) for op, name in enumerate(names)]
    generic = [g if 0 <= g < 256 else op for op, g in enumerate(generic)]
    return {
        "python_version": sys.version.split()[0],
        "names": names,
        "caches": _cache_entries(names, generic),
        "generic": generic,
        "have_argument": opcode.HAVE_ARGUMENT,
        "extended_arg": opcode.EXTENDED_ARG,
    }


def table_json():
    """The table as JSON, written by hand (json's import, 6 ms, would be the
    program's under `run --opcodes`): opcode names are identifiers or
    `<N>`, nothing to escape; json itself otherwise."""
    t = table()
    if not all(n.replace("_", "").replace("<", "").replace(">", "").isalnum() for n in t["names"]):
        import json

        return json.dumps(t)
    ints = lambda xs: "[" + ", ".join(str(int(x)) for x in xs) + "]"  # noqa: E731
    return ('{"python_version": "%s", "names": [%s], "caches": %s, "generic": %s, '
            '"have_argument": %d, "extended_arg": %d}'
            % (t["python_version"].replace("\\", "").replace('"', ""),
               ", ".join('"%s"' % n for n in t["names"]), ints(t["caches"]), ints(t["generic"]),
               t["have_argument"], t["extended_arg"]))


if __name__ == "__main__":
    sys.stdout.write(table_json())
