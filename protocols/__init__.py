"""Meter protocol drivers.

Nothing in this package imports Django: drivers take bytes and transports, and return plain
dataclasses with ``Decimal`` values, so they can be tested against simulators and reused by the
AMR execution environments (``amr/environments/``) and by the frame inspectors
(``python -m protocols.<name> decode ...``).
"""
