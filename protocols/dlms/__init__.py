"""DLMS/COSEM driver.

Layers, each its own module: :mod:`.axdr` (values, COSEM date-time), :mod:`.obis`, :mod:`.hdlc`,
:mod:`.wrapper` and :mod:`.mbus` (framings), :mod:`.security` (suite 0 GCM/GMAC, ciphered APDUs),
:mod:`.apdu` (xDLMS services), :mod:`.lists` and :mod:`.profile` (turning data into labelled
values), :mod:`.frames` (decode anything captured; the inspector ``python -m protocols.dlms``),
:mod:`.client` (sessions with meters, on gurux-dlms), :mod:`.counters` (invocation counter
stores) and :mod:`.simulator` (our own meter for tests and demos). Parsing never needs gurux.
"""
