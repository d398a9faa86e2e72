"""The tesseract peer: Tesseract 5 (Debian's ``tesseract-ocr``, LSTM engine, English model).

Every line image is read with ``--psm 7`` (treat the image as a single text line),
the same files our model reads. Tesseract is run once for many images (an image
list file), so its model loads once; pages are separated by form feeds in its output.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from shared.errors import DataError


class Tesseract:
    name = "tesseract"

    def __init__(self, psm: int = 7, language: str = "eng", whitelist: str | None = None):
        self.binary = shutil.which("tesseract")
        if self.binary is None:
            raise DataError("tesseract is not installed: apt-get install tesseract-ocr (or make system-deps)")
        self.args = ["--psm", str(psm), "-l", language]
        if whitelist:
            self.args += ["-c", f"tessedit_char_whitelist={whitelist}"]

    def version(self) -> str:
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, check=False)
        return (out.stdout or out.stderr).splitlines()[0].strip()

    def read_files(self, paths: list[str | Path], chunk: int = 200) -> list[str]:
        """One text per image file (whitespace collapsed)."""
        texts: list[str] = []
        for start in range(0, len(paths), chunk):
            texts += self._run([str(Path(p).resolve()) for p in paths[start:start + chunk]])
        return texts

    def _run(self, paths: list[str]) -> list[str]:
        with tempfile.TemporaryDirectory() as tmp:
            listing = Path(tmp) / "images.txt"
            listing.write_text("\n".join(paths) + "\n")
            result = subprocess.run([self.binary, str(listing), "stdout", *self.args], capture_output=True,
                                    text=True, check=False, env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"})
        if result.returncode != 0:
            raise DataError(f"tesseract failed: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else result.returncode}")
        pages = result.stdout.split("\f")
        if len(pages) < len(paths):
            raise DataError(f"tesseract returned {len(pages)} pages for {len(paths)} images")
        return [" ".join(page.split()) for page in pages[: len(paths)]]
