"""Unit tests are pure: no fixtures touch the network."""

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/unit/" in str(item.path):
            item.add_marker(pytest.mark.unit)
