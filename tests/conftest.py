from __future__ import annotations

import pytest


@pytest.fixture
def personas(db):
    """The shared cast (tests/support/personas.py). Imported lazily so that driver tests, which
    need no Django, can also run with ``-p no:django``."""
    from tests.support.personas import build_personas

    return build_personas()
