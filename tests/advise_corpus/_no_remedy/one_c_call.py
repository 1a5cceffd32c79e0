"""Time spent in one C call, hashing a large buffer (advise corpus: nothing
to remedy in Python)."""
import hashlib

data = bytes(range(256)) * (1 << 18)  # 64 MiB
digest = hashlib.sha256()
for _ in range(4):
    digest.update(data)
print(digest.hexdigest())
