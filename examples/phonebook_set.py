"""Phone book with a dict and a set (High Performance Python, 2nd ed.,
chapters 3 and 4): the "after" of an optimisation, for `snakescope diff`.

The same program as ``phonebook_list.py``, but ``make_phonebook`` builds a
dict, so ``find_phonenumber`` is one hash lookup, and ``unique_names`` adds
first names to a set: both linear where the list version is quadratic.
Compare the two with

    snakescope record -o list.json -- python3 examples/phonebook_list.py
    snakescope record -o set.json -- python3 examples/phonebook_set.py
    snakescope diff list.json set.json --flamegraph diff.svg

Deterministic (a fixed linear congruential generator makes the names); an
optional argument scales the work as in the list version.
"""
import sys

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
ENTRIES = int(20_000 * SCALE)
FIRST_NAMES = 1_000
LOOKUPS = int(2_000 * SCALE)
SYLLABLES = ["ba", "ce", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu",
             "na", "pe", "ri", "so", "tu", "va", "we", "xi", "yo", "zu"]


def make_name(i, parts):
    s = SYLLABLES[i % 20]
    for _ in range(parts - 1):
        i //= 20
        s += SYLLABLES[i % 20]
    return s.capitalize()


def random_numbers(seed):
    state = seed
    while True:
        state = (1664525 * state + 1013904223) & 0xFFFFFFFF
        yield state >> 8


def make_entries(entries):
    rng = random_numbers(2024)
    firsts = [make_name(i, 3) for i in range(FIRST_NAMES)]
    return [(f"{firsts[next(rng) % FIRST_NAMES]} {make_name(i, 4)}",
             f"555-{next(rng) % 10_000:04d}-{next(rng) % 10_000:04d}")
            for i in range(entries)]


def make_phonebook(entries):
    return dict(entries)


def find_phonenumber(phonebook, name):
    return phonebook.get(name)


def unique_names(phonebook):
    unique = set()
    for name in phonebook:
        first_name = name.split(" ", 1)[0]
        unique.add(first_name)
    return len(unique)


def main():
    entries = make_entries(ENTRIES)
    phonebook = make_phonebook(entries)
    rng = random_numbers(7)
    found = 0
    for k in range(LOOKUPS):
        name = entries[next(rng) % ENTRIES][0] if k % 10 else f"Nobody {k}"
        if find_phonenumber(phonebook, name) is not None:
            found += 1
    print(f"entries={ENTRIES} lookups={LOOKUPS} found={found} "
          f"unique_first_names={unique_names(phonebook)}")


if __name__ == "__main__":
    main()
