"""What every service's lifespan does to its process, beyond the tasks it starts."""

import gc

from tests.service.conftest import running_service


async def test_start_up_objects_are_frozen_out_of_the_collectors_walks(database_url: str, kafka_bootstrap: str) -> None:
    # Without the freeze every full collection walked the whole import graph: 160-360 ms stalls under load.
    frozen_before = gc.get_freeze_count()
    async with running_service("scorer", database_url, kafka_bootstrap):
        assert gc.get_freeze_count() > frozen_before
