"""A finding: where, the evidence that made its rule fire, the remedy with a
before/after written from the program's own line, the chapter of *High
Performance Python*, and the gain it can give at most (Amdahl: the samples,
or the bytes, the remedy removes, never more than the hotspot's share)."""


class Finding:
    def __init__(self, rule, hot, *, resource="time", share, evidence, remedy, before, after,
                 gain, gain_text, rewrite=None):
        self.rule, self.hot = rule, hot
        self.resource = resource  # "time" or "memory": what share and gain are of
        self.share = share
        self.evidence = evidence
        self.remedy, self.before, self.after = remedy, before, after
        self.gain = min(gain, share)  # Amdahl: never more than the hotspot itself
        self.gain_text = gain_text
        self.rewrite = rewrite  # what --verify needs for a mechanical rewrite, else None
        self.verified = None

    def to_json(self):
        return {
            "rule": self.rule.NAME,
            "title": self.rule.TITLE,
            "chapter": self.rule.CHAPTER,
            "file": self.hot.file,
            "line": self.hot.line,
            "function": self.hot.function,
            "resource": self.resource,
            "share": round(self.share, 4),
            "evidence": self.evidence,
            "remedy": self.remedy,
            "before": self.before,
            "after": self.after,
            "gain": round(self.gain, 4),
            "gain_text": self.gain_text,
            "mechanical": self.rewrite is not None,
            "verified": self.verified,
        }


def pct(x):
    return f"{100 * x:.1f} %"


def size(n):
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def operand_text(name, fact):
    """`known` was a list of 10,000 items (seen at 31 samples of the line)."""
    kind = fact["type"]
    a = "an" if kind[:1].lower() in "aeiou" else "a"  # an int, an ndarray
    if fact.get("len_max") is not None:
        unit = "characters" if kind in ("str",) else "items"
        return (f"`{name}` was {a} {kind} of {fact['len_max']:,} {unit} "
                f"(operand sampler, {fact['where']})")
    if fact.get("shape") is not None:
        shape = "×".join(str(d) for d in fact["shape"])
        return (f"`{name}` was {a} {kind} of {shape} {fact.get('dtype', '')} "
                f"(operand sampler, {fact['where']})")
    return f"`{name}` was {a} {kind} (operand sampler, {fact['where']})"


def indent_of(hot):
    raw = hot.source.lines[hot.line - 1] if hot.source else ""
    return raw[: len(raw) - len(raw.lstrip())]
