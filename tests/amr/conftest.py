from __future__ import annotations

import pytest

from protocols.iec62056_21.simulator import MeterSimulator
from tests.support.factories import OrganizationFactory


@pytest.fixture
def organization(db):
    return OrganizationFactory(auto_create_series=True)


@pytest.fixture
def iec_simulator():
    simulator = MeterSimulator()
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def fast_retries(settings):
    settings.AMR_RETRY_BACKOFF_SECONDS = 0.01
    settings.AMR_RETRY_BACKOFF_MAX_SECONDS = 0.05
    settings.AMR_JOB_MAX_RETRIES = 3
    settings.AMR_BLOCK_WAIT_SECONDS = 0
    settings.AMR_METER_TIMEOUT_SECONDS = 2
    return settings
