"""Modbus driver (TCP, RTU, RTU over TCP) for the ``generic_modbus`` environment, on pymodbus."""
