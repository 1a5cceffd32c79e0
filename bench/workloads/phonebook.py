"""Phone book lookups, list vs set/dict (after High Performance Python, 2nd ed.,
chapters 3 and 4).

The book's examples: ``find_phonenumber`` finds a number by linear search in
a list of ``(name, number)`` tuples (chapter 3), where a dict answers in O(1);
``list_unique_names`` counts distinct first names by scanning a list of the
names seen so far, where ``set_unique_names`` uses a set (chapter 4). Both
list-based versions are quadratic and carry almost all of the run time; the
set/dict versions are there to check their answers.

Deterministic (names and numbers come from a fixed linear congruential
generator, not ``random`` or ``hash``); sized to take roughly 2 s unprofiled
on CPython 3.11 (an optional first argument scales it); prints a check value.
"""
import sys

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
ENTRIES = int(36_000 * SCALE)  # people in the phone book
FIRST_NAMES = 4_000  # distinct first names to draw from
LOOKUPS = int(1_400 * SCALE)  # names looked up (one in ten is not in the book)

SYLLABLES = ["ba", "ce", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu",
             "na", "pe", "ri", "so", "tu", "va", "we", "xi", "yo", "zu"]


class Lcg:
    """Numerical Recipes' 32-bit LCG: the same sequence on every Python."""

    def __init__(self, seed):
        self.state = seed

    def below(self, n):
        self.state = (1664525 * self.state + 1013904223) & 0xFFFFFFFF
        return (self.state >> 8) % n


def make_name(i, parts):
    s = SYLLABLES[i % 20]
    for _ in range(parts - 1):
        i //= 20
        s += SYLLABLES[i % 20]
    return s.capitalize()


def make_phonebook(entries, rng):
    firsts = [make_name(i, 3) for i in range(FIRST_NAMES)]
    phonebook = []
    for i in range(entries):
        name = f"{firsts[rng.below(FIRST_NAMES)]} {make_name(i, 4)}"
        number = f"555-{rng.below(10_000):04d}-{rng.below(10_000):04d}"
        phonebook.append((name, number))
    return phonebook


def find_phonenumber(phonebook, name):
    for n, p in phonebook:
        if n == name:
            return p
    return None


def list_unique_names(phonebook):
    unique_names = []
    for name, phonenumber in phonebook:
        first_name, last_name = name.split(" ", 1)
        for unique in unique_names:
            if unique == first_name:
                break
        else:
            unique_names.append(first_name)
    return len(unique_names)


def set_unique_names(phonebook):
    unique_names = set()
    for name, phonenumber in phonebook:
        first_name, last_name = name.split(" ", 1)
        unique_names.add(first_name)
    return len(unique_names)


def main(entries, lookups):
    rng = Lcg(2024)
    phonebook = make_phonebook(entries, rng)
    as_dict = dict(phonebook)

    n_unique = list_unique_names(phonebook)
    assert n_unique == set_unique_names(phonebook), n_unique

    found = 0
    checksum = 0
    for k in range(lookups):
        if k % 10 == 9:
            name = f"Nobody {make_name(k, 4)}"
        else:
            name = phonebook[rng.below(entries)][0]
        number = find_phonenumber(phonebook, name)
        assert number == as_dict.get(name), name
        if number is not None:
            found += 1
            checksum = (checksum * 31 + int(number.replace("-", ""))) % 1_000_000_007
    return n_unique, found, checksum


if __name__ == "__main__":
    n_unique, found, checksum = main(ENTRIES, LOOKUPS)
    print(f"phonebook entries={ENTRIES} unique_first_names={n_unique} "
          f"lookups={LOOKUPS} found={found} checksum={checksum}")
