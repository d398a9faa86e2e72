"""One Prefect test server for the whole session (starting one costs ~25 s)."""

import pytest


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield PREFECT_API_URL.value()
