"""LIS-200 driver (``generic_lis200``) for Elster/Honeywell volume correctors and data loggers.

IEC 62056-21 mode C framing with LIS-200 addressing (``instance:address.attribute``) and archives;
see :mod:`protocols.lis200.codec` and :mod:`protocols.lis200.client`.
"""

from .client import Lis200Client
from .simulator import Lis200Simulator

__all__ = ["Lis200Client", "Lis200Simulator"]
