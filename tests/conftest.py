"""Test-wide settings: small thread count, deterministic seeds."""

import os

import pytest
import torch

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
