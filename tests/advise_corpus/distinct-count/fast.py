"""Counts distinct visitors approximately with a HyperLogLog of 4,096
registers (4 KB instead of every id; a standard error near 1.6 %) (advise
corpus: distinct-count, fast)."""
import hashlib
import math

BITS = 12
M = 1 << BITS


def distinct_visitors(n):
    registers = bytearray(M)
    for i in range(n):
        key = f"visitor-{(i * 2654435761) % 1_000_003:09d}".encode()
        h = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")
        bucket, rest = h >> (64 - BITS), h & ((1 << (64 - BITS)) - 1)
        rank = (64 - BITS) - rest.bit_length() + 1
        if rank > registers[bucket]:
            registers[bucket] = rank
    alpha = 0.7213 / (1 + 1.079 / M)
    estimate = alpha * M * M / sum(2.0 ** -r for r in registers)
    zeros = registers.count(0)
    if estimate <= 2.5 * M and zeros:
        estimate = M * math.log(M / zeros)
    return round(estimate, -3)


print(distinct_visitors(400_000))
