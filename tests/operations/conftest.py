from __future__ import annotations

import pytest

from tests.support.factories import OrganizationFactory


@pytest.fixture
def organization(db):
    return OrganizationFactory(name="Utility A", auto_create_series=True)


@pytest.fixture
def quick_meters(settings):
    """Short timeouts and no waiting, so a refused connection fails fast."""
    settings.AMR_METER_TIMEOUT_SECONDS = 5
    settings.AMR_BLOCK_WAIT_SECONDS = 0
    settings.AMR_JOB_MAX_RETRIES = 0
    return settings


@pytest.fixture
def iec_simulator():
    from protocols.iec62056_21.simulator import MeterSimulator

    simulator = MeterSimulator()
    simulator.start()
    yield simulator
    simulator.stop()
