"""gensim's Lee background corpus: unlabelled news text for gap-sentence pretraining.

The file ships in the gensim wheel as test data; it is read, gensim is never imported.
"""

from __future__ import annotations

from apps.summarization.datasets.wikipedia import gensim_test_file

LEE_BACKGROUND = "lee_background.cor"


def lee_background_text() -> list[str]:
    """The documents of gensim's Lee background corpus (one per line), for self-supervised pretraining."""
    lines = gensim_test_file(LEE_BACKGROUND).read_text(encoding="utf-8", errors="replace").splitlines()
    return [" ".join(line.split()) for line in lines if line.strip()]
