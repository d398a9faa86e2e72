"""Fixtures of the reliability suite."""

import pytest


@pytest.fixture(scope="session")
def tiny_models_root(tmp_path_factory):
    """Where the tiny model of each app is trained, once per test session (see ``tiny_models.py``)."""
    return tmp_path_factory.mktemp("tiny-models")
