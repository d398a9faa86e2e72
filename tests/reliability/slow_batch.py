"""A batch job on the shared runner for the kill tests: ``python slow_batch.py OUT ROWS``.

Each row costs a few milliseconds of real CPU work; every 7th row is bad (an error row), and the
last row repeats an earlier id (a duplicate), so resume must also keep error rows exact. ROWS
rows in all: a multiple of 16 fills every shard.
"""

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared.inference import InputRow, RowError, run_batch_inference  # noqa: E402


def rows(n: int):
    for i in range(n - 1):
        yield InputRow(f"r{i:05d}", payload=i, error="unreadable" if i % 7 == 3 else None)
    yield InputRow("r00010", payload=10)  # a repeated id


def predict(batch: list[InputRow]):
    out = []
    for row in batch:
        if row.payload % 11 == 5:
            out.append(RowError("payload rejected"))
            continue
        digest = str(row.payload).encode()
        for _ in range(20000):
            digest = hashlib.sha256(digest).digest()
        out.append([{"value": row.payload, "digest": digest.hex()}])
    return out


if __name__ == "__main__":
    summary = run_batch_inference(rows(int(sys.argv[2])), predict, sys.argv[1], shard_size=16, batch_size=4,
                                  progress=False)
    sys.exit(summary.exit_code)
