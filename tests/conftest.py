"""Test-wide settings: small thread count, deterministic seeds."""

import os
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).parent
INTEGRATION_FOLDERS = ("pipelines", "reliability")  # flows, servers, CLIs in subprocesses, kill suites

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session", autouse=True)
def _temporary_folders_are_an_allowed_root(tmp_path_factory):
    """Test data lives in pytest's temporary folders, outside the working directory, so the tests
    list them in SEXTANT_ALLOWED_ROOTS as a user lists their data folder (see shared/paths.py).
    Escapes to anywhere else are still refused; tests of the rule set the variable themselves."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEXTANT_ALLOWED_ROOTS", str(tmp_path_factory.getbasetemp()))
        yield


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """One Prefect test server for the whole session (starting one costs ~25 s)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield PREFECT_API_URL.value()


def pytest_collection_modifyitems(config, items):
    """Tests under tests/pipelines and tests/reliability are ``integration``; any other test not
    marked ``integration`` is ``unit``, so ``-m unit`` is everything self-contained."""
    for item in items:
        if item.get_closest_marker("integration") or item.get_closest_marker("unit"):
            continue
        folder = Path(str(item.fspath)).relative_to(TESTS).parts[0]
        item.add_marker(pytest.mark.integration if folder in INTEGRATION_FOLDERS else pytest.mark.unit)
