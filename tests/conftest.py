from __future__ import annotations

import pytest

from tests.support.personas import Personas, build_personas


@pytest.fixture
def personas(db) -> Personas:
    return build_personas()
