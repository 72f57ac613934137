"""Pipeline tier: real broker, real PostgreSQL, the services as real processes."""

import pytest


@pytest.fixture(autouse=True)
def _mark(request: pytest.FixtureRequest) -> None:
    request.node.add_marker(pytest.mark.pipeline)
