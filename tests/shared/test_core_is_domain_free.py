"""The core never names a domain: apps plug in through adapters."""

import re
from pathlib import Path

import shared

DOMAIN_WORDS = re.compile(
    r"\b(molecul\w*|smiles|rdkit|audio|speech|spectrogram|image|pixel|vision|ocr|handwrit\w*|"
    r"forecast\w*|time[- ]series|summari[sz]\w*|graphs?)\b",
    re.IGNORECASE,
)


def test_shared_has_no_domain_words():
    root = Path(shared.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if DOMAIN_WORDS.search(line):
                offenders.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
