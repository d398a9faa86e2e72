"""Secrets come from the environment (or Prefect Secret blocks), never from committed files."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A mapping key (at the start of a line) naming a secret, and its value: `db_password: x`, `API_KEY=x`.
SECRET_KEY = re.compile(r"(?i)^\s*-?\s*[\"']?([\w.-]*?(?:password|passwd|secret|token|api[_-]?key|access[_-]?key)"
                        r"(?:[_.-][\w.-]*)?)[\"']?\s*[:=]\s*(\S+)")
URL_CREDENTIALS = re.compile(r"://[^/\s:@]+:([^@\s]+)@")
FROM_ENVIRONMENT = re.compile(r"^[\"']?\$\{?\w")  # ${VAR...} or $VAR


def secrets_in(text: str) -> list[tuple[int, str]]:
    """(line, finding) for every literal secret value in ``text``."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        if match := SECRET_KEY.match(line):
            value = match.group(2).strip("\"',")
            if value and not FROM_ENVIRONMENT.match(value) and value.lower() not in ("null", "none", "~"):
                found.append((number, match.group(0).strip()))
        for match in URL_CREDENTIALS.finditer(line):
            if not FROM_ENVIRONMENT.match(match.group(1)):
                found.append((number, match.group(0)))
    return found


def test_the_scan_finds_literal_secrets_and_passes_environment_references():
    assert len(secrets_in("POSTGRES_PASSWORD: prefect\napi_key = abc123\nurl: postgresql://u:hunter2@db/x\n"
                          "  - GITHUB_TOKEN=ghp_x")) == 4
    assert secrets_in("target_tokens: 64\ntokenizer: bpe") == []  # counts and names, not secrets
    assert secrets_in("POSTGRES_PASSWORD: ${SEXTANT_DB_PASSWORD:?set it}\n"
                      "url: postgresql://u:${SEXTANT_DB_PASSWORD}@db/x\n# password: example in a comment") == []


def _committed_config_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    suffixes = {".yaml", ".yml", ".json", ".toml", ".cfg", ".ini", ".env", ""}
    return [ROOT / name for name in listed.stdout.splitlines()
            if Path(name).suffix in suffixes and not name.startswith(("tests/", "benchmarks/results/"))]


def test_no_secret_is_committed():
    files = _committed_config_files()
    assert any(p.name == "compose.yaml" for p in files)
    problems = [f"{p.relative_to(ROOT)}:{line}: {what}" for p in files if p.is_file()
                for line, what in secrets_in(p.read_text(errors="replace"))]
    assert not problems, "\n".join(problems)
