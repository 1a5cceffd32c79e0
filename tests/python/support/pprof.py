"""A reader of pprof files (gzip + `perftools.profiles.Profile` protobuf), for
checking sample types, units, periods and values without Go or a protobuf
package: just the wire format and the fields of profile.proto it needs."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field

# Field numbers in crates/snakescope-formats/proto/profile.proto.
SAMPLE_TYPE, SAMPLE, STRING_TABLE = 1, 2, 6
PERIOD_TYPE, PERIOD, DEFAULT_SAMPLE_TYPE = 11, 12, 14
SAMPLE_VALUE = 2
VALUE_TYPE, VALUE_UNIT = 1, 2


@dataclass
class Pprof:
    """A decoded profile: (type, unit) per sample type, each sample's values."""
    sample_types: list[tuple[str, str]]
    values: list[list[int]] = field(default_factory=list)
    period_type: tuple[str, str] | None = None
    period: int = 0
    default_sample_type: str = ""

    def total(self, kind: str) -> int:
        """The sum of one sample type's values over every sample."""
        i = [t for t, _ in self.sample_types].index(kind)
        return sum(v[i] for v in self.values)


def read_pprof(raw: bytes) -> Pprof:
    assert raw[:2] == b"\x1f\x8b", "not gzip"
    fields = _fields(gzip.decompress(raw))
    strings = [v.decode() for n, v in fields if n == STRING_TABLE]
    assert strings and strings[0] == "", "string table must start with the empty string"

    def value_type(data: bytes) -> tuple[str, str]:
        f = dict(_fields(data))
        return strings[f.get(VALUE_TYPE, 0)], strings[f.get(VALUE_UNIT, 0)]

    one = {n: v for n, v in fields if n in (PERIOD_TYPE, PERIOD, DEFAULT_SAMPLE_TYPE)}
    return Pprof(
        sample_types=[value_type(v) for n, v in fields if n == SAMPLE_TYPE],
        values=[_sample_values(v) for n, v in fields if n == SAMPLE],
        period_type=value_type(one[PERIOD_TYPE]) if PERIOD_TYPE in one else None,
        period=one.get(PERIOD, 0),
        default_sample_type=strings[one.get(DEFAULT_SAMPLE_TYPE, 0)],
    )


def _sample_values(data: bytes) -> list[int]:
    values: list[int] = []
    for n, v in _fields(data):
        if n == SAMPLE_VALUE:
            values.extend(_packed(v) if isinstance(v, bytes) else [v])
    return values


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) in order: an int for varints, bytes for
    length-delimited fields (the only wire types profile.proto uses)."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(data, pos)
            out.append((number, data[pos:pos + size]))
            pos += size
        else:
            raise AssertionError(f"unexpected wire type {wire} for field {number}")
    return out


def _packed(data: bytes) -> list[int]:
    values, pos = [], 0
    while pos < len(data):
        value, pos = _varint(data, pos)
        values.append(value - (1 << 64) if value >= 1 << 63 else value)
    return values


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
