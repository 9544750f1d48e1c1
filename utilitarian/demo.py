"""The living demo: demo inventory (``seed_demo``) and a simulated field of loopback meters.

``demo_seed`` creates, idempotently, the demo organization's inventory: one meter device per
landed protocol (DLMS/COSEM, IEC 62056-21, LIS-200, M-Bus, Modbus), each with a network interface
on 127.0.0.1, the reading series those meters report, one quarterly AMR task per protocol and a
task group per protocol (a group's task only makes sense for the meters of its protocol). Running
it again changes nothing except the ports when they are given.

:class:`DemoField` runs the protocols' own loopback simulators in threads of one process, so the
real drivers read them through real sockets. The simulators bind free ports (several of them
cannot be told which), so whoever starts the field re-points the demo interfaces at those ports
(``demo_seed(ports=field.ports)``). ``advance`` moves the counters of the simulators that serve
live values (IEC 62056-21, M-Bus, Modbus) so consecutive reads differ; the DLMS load profile and
the LIS-200 archive are histories generated once at start (a day of quarter-hours, hourly rows).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

DEMO_ORGANIZATION = "Demo Utility"

#: Ports the demo interfaces get when no field is running (``seed_demo`` alone); the field
#: re-points them at the ports its simulators bound.
DEFAULT_PORTS = {"dlms": 47101, "iec": 47102, "lis200": 47103, "mbus": 47104, "modbus": 47105}

MBUS_PRIMARY_ADDRESS = 5
MODBUS_UNIT_ID = 1

#: The Modbus demo meter's register map (on its device type); the energy register in Wh so the
#: series is shared with the DLMS meter's.
MODBUS_REGISTER_MAP = [
    {"series": "1.0.1.8.0.255", "address": 0, "data_type": "uint32", "unit": "Wh"},
    {"series": "1.0.32.7.0.255", "address": 4, "data_type": "float32", "unit": "V"},
    {"series": "1.0.1.7.0.255", "address": 6, "data_type": "int32", "scale": "0.1", "unit": "W"},
]

#: (name, unit, description) of the series the demo meters report.
DEMO_SERIES = [
    ("1.0.1.8.0.255", "Wh", "Active energy import (DLMS load profile, Modbus register)"),
    ("1.0.32.7.0.255", "V", "Voltage L1"),
    ("1.0.1.7.0.255", "W", "Active power import"),
    ("1.8.0", "kWh", "Active energy import (IEC 62056-21 readout)"),
    ("2.8.0", "kWh", "Active energy export (IEC 62056-21 readout)"),
    ("1.7.0", "kW", "Active power import (IEC 62056-21 readout)"),
    ("32.7.0", "V", "Voltage L1 (IEC 62056-21 readout)"),
    ("31.7.0", "A", "Current L1 (IEC 62056-21 readout)"),
    ("lis200:3:4", "m3", "Vb standard volume (LIS-200 hourly archive)"),
    ("lis200:3:5", "m3", "Vm volume at measurement conditions (LIS-200 hourly archive)"),
    ("lis200:3:6", "bar", "Pressure (LIS-200 hourly archive)"),
    ("lis200:3:7", "°C", "Temperature (LIS-200 hourly archive)"),
    ("volume:0:0:0:instantaneous", "m³", "Volume (M-Bus)"),
    ("energy:0:0:0:instantaneous", "Wh", "Energy (M-Bus)"),
]


@dataclass(frozen=True)
class DemoMeter:
    key: str  # key of DEFAULT_PORTS / DemoField.ports
    name: str
    protocol: str
    environment: str
    task_name: str
    task_call: str
    task_kwargs: dict[str, Any] | None
    fields: dict[str, Any] = field(default_factory=dict)


DEMO_METERS = [
    DemoMeter(
        "dlms",
        "demo-dlms-1",
        "dlms-cosem",
        "generic_dlms",
        "Demo: DLMS load profile (last day)",
        "read_profile_by_offset_seconds",
        {"obis_code": "1.0.99.1.0.255", "offset_seconds": 86400},
        {"dlms_transport": "wrapper", "dlms_client_address": 16, "dlms_server_address": 1},
    ),
    DemoMeter(
        "iec",
        "demo-iec-1",
        "iec62056-21",
        "generic_iec6205621",
        "Demo: IEC 62056-21 readout",
        "readout",
        None,
    ),
    DemoMeter(
        "lis200",
        "demo-lis200-1",
        "lis-200",
        "generic_lis200",
        "Demo: LIS-200 hourly archive (last two days)",
        "read_archive_by_offset_seconds",
        {"offset_seconds": 2 * 86400, "archive_number": 3, "control_position": 3},
    ),
    DemoMeter(
        "mbus",
        "demo-mbus-1",
        "mbus",
        "generic_mbus",
        "Demo: M-Bus read",
        "read",
        None,
        {"mbus_primary_address": MBUS_PRIMARY_ADDRESS},
    ),
    DemoMeter(
        "modbus",
        "demo-modbus-1",
        "modbus",
        "generic_modbus",
        "Demo: Modbus registers",
        "read_registers",
        None,
        {"modbus_unit_id": MODBUS_UNIT_ID},
    ),
]


@dataclass
class DemoSeedResult:
    organization: Any
    meters: list = field(default_factory=list)
    created: int = 0  # objects created by this call (0 on a re-run)


def demo_seed(
    *, ports: dict[str, int] | None = None, organization_name: str = DEMO_ORGANIZATION
) -> DemoSeedResult:
    """Create (or complete) the demo inventory; point the interfaces at ``ports`` when given."""
    from django.db import transaction

    from amr.models import AmrTask, AmrTaskGroup, Schedule
    from meters.models import MeterDevice, MeterDeviceType, MeterReadingSeries, NetworkInterface
    from utilitarian.models import Organization

    wanted_ports = {**DEFAULT_PORTS, **(ports or {})}
    created = 0

    def count(pair):
        nonlocal created
        obj, was_created = pair
        created += int(was_created)
        return obj

    with transaction.atomic():
        organization = Organization.objects.filter(name=organization_name).order_by("created_at").first()
        if organization is None:
            organization = Organization.objects.create(name=organization_name, auto_create_series=True)
            created += 1
        elif not organization.auto_create_series:
            # The demo stores whatever the simulated meters send (unknown registers get a series).
            organization.auto_create_series = True
            organization.save(update_fields=["auto_create_series"])
        for name, unit, description in DEMO_SERIES:
            count(
                MeterReadingSeries.objects.get_or_create(
                    organization=organization, name=name, defaults={"unit": unit, "description": description}
                )
            )
        modbus_type = count(
            MeterDeviceType.objects.get_or_create(
                organization=organization,
                name="Demo Modbus meter",
                defaults={
                    "manufacturer": "Utilitarian",
                    "manufacturer_model": "SIM-MODBUS",
                    "description": "Loopback Modbus TCP simulator of the demo",
                    "modbus_register_map": MODBUS_REGISTER_MAP,
                },
            )
        )
        meters = []
        for spec in DEMO_METERS:
            task = count(
                AmrTask.objects.get_or_create(
                    organization=organization,
                    name=spec.task_name,
                    defaults={
                        "schedule": Schedule.QUARTERLY,
                        "meter_execution_type": spec.environment,
                        "task_call": spec.task_call,
                        "task_kwargs": spec.task_kwargs,
                        "description": "Quarterly read of the demo's simulated meter",
                    },
                )
            )
            group = count(
                AmrTaskGroup.objects.get_or_create(
                    organization=organization,
                    name=f"Demo {spec.protocol} meters",
                    defaults={"description": "Demo meters read every quarter of an hour"},
                )
            )
            group.tasks.add(task)
            meter = MeterDevice.objects.filter(organization=organization, name=spec.name).first()
            if meter is None:
                interface = NetworkInterface.objects.create(
                    organization=organization, static_ip_address="127.0.0.1", port=wanted_ports[spec.key]
                )
                meter = MeterDevice.objects.create(
                    organization=organization,
                    name=spec.name,
                    protocol=spec.protocol,
                    manufacturer_serial=f"DEMO-{spec.key.upper()}",
                    network_interface=interface,
                    type=modbus_type if spec.key == "modbus" else None,
                    **spec.fields,
                )
                created += 2
            elif meter.network_interface_id is None:
                meter.network_interface = NetworkInterface.objects.create(
                    organization=organization, static_ip_address="127.0.0.1", port=wanted_ports[spec.key]
                )
                meter.save(update_fields=["network_interface"])
                created += 1
            elif ports and spec.key in ports and meter.network_interface.port != ports[spec.key]:
                NetworkInterface.objects.filter(pk=meter.network_interface_id).update(port=ports[spec.key])
                meter.network_interface.port = ports[spec.key]
            meter.task_groups.add(group)
            meters.append(meter)
    return DemoSeedResult(organization=organization, meters=meters, created=created)


# --- the simulated field ----------------------------------------------------------------------


def _mbus_telegram(volume_litres: int, energy_kwh: int) -> bytes:
    """A variable-data RSP_UD of a water/heat meter: volume (VIF 0x13, litres) and energy
    (VIF 0x06, kWh), built with the driver's own codec."""
    from protocols.mbus import codec

    header = bytes.fromhex("21436587") + (0x2C2D).to_bytes(2, "little") + bytes([1, 7, 0, 0, 0, 0])
    records = (
        bytes([0x04, 0x13])
        + volume_litres.to_bytes(4, "little")
        + bytes([0x04, 0x06])
        + energy_kwh.to_bytes(4, "little")
    )
    return codec.encode_long(codec.RSP_UD, MBUS_PRIMARY_ADDRESS, codec.CI_VARIABLE, header + records)


class DemoField:
    """The demo's simulated meters, each on its own loopback port. ``start()``, ``advance()``
    now and then, ``stop()``."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self.started_at = now or datetime.now(UTC)
        self.ports: dict[str, int] = {}
        self._simulators: dict[str, Any] = {}
        self._lock = threading.Lock()

    def start(self) -> dict[str, int]:
        from protocols.dlms.simulator import DlmsSimulator, MeterModel
        from protocols.iec62056_21.simulator import MeterSimulator
        from protocols.lis200.simulator import Lis200Simulator
        from protocols.mbus.simulator import MBusSimulator, SimulatedSlave
        from protocols.modbus.registers import RegisterMap
        from protocols.modbus.simulator import ModbusSimulator

        # The load profile covers the last day up to the current quarter-hour.
        quarter = self.started_at.replace(minute=self.started_at.minute // 15 * 15, second=0, microsecond=0)
        profile_start = quarter - timedelta(hours=24)
        simulators = {
            "dlms": DlmsSimulator(model=MeterModel(utc_offset_minutes=0, start=profile_start)),
            "iec": MeterSimulator(),
            "lis200": Lis200Simulator(),
            "mbus": MBusSimulator(
                [SimulatedSlave([_mbus_telegram(123_456, 4_321)], primary=MBUS_PRIMARY_ADDRESS)]
            ),
            "modbus": ModbusSimulator(
                RegisterMap.from_dict(MODBUS_REGISTER_MAP),
                self._modbus_values(0),
                unit_id=MODBUS_UNIT_ID,
            ),
        }
        try:
            for key, simulator in simulators.items():
                self.ports[key] = simulator.start()
                self._simulators[key] = simulator
        except Exception:
            self.stop()
            raise
        self.advance(self.started_at)
        return dict(self.ports)

    def stop(self) -> None:
        for simulator in self._simulators.values():
            try:
                simulator.stop()
            except Exception:  # stopping must reach every simulator
                pass
        self._simulators.clear()

    @staticmethod
    def _modbus_values(hours: float) -> dict[str, str]:
        energy = 2_500_000 + int(hours * 730)
        return {
            "1.0.1.8.0.255": str(energy),
            "1.0.32.7.0.255": f"{Decimal('229.5') + Decimal(int(hours * 60) % 20) / 10}",
            "1.0.1.7.0.255": f"{Decimal('730.0') + Decimal(int(hours * 60) % 9) * 10}",
        }

    def advance(self, now: datetime | None = None) -> None:
        """Move the live counters to ``now``: energy grows with time, voltage and power wander."""
        now = now or datetime.now(UTC)
        hours = max((now - self.started_at).total_seconds() / 3600, 0)
        with self._lock:
            iec = self._simulators.get("iec")
            if iec is not None:
                minute = int(hours * 60)
                iec.registers["1.8.0"] = (
                    f"{Decimal('1846.0') + Decimal(round(hours * 0.49, 1)):08.1f}",
                    "kWh",
                )
                iec.registers["1.7.0"] = (f"{Decimal('0.490') + Decimal(minute % 7) / 100:06.3f}", "kW")
                iec.registers["32.7.0"] = (
                    f"{Decimal('230.1') + Decimal(minute % 5) / 10 - Decimal('0.2'):05.1f}",
                    "V",
                )
            mbus = self._simulators.get("mbus")
            if mbus is not None:
                volume = 123_456 + int(hours * 42)
                energy = 4_321 + int(hours * 3)
                mbus.slaves[0].telegrams = [_mbus_telegram(volume, energy)]
            modbus = self._simulators.get("modbus")
            if modbus is not None:
                modbus.set_values(self._modbus_values(hours))

    def describe(self) -> list[str]:
        labels = {
            "dlms": "DLMS/COSEM (TCP wrapper)",
            "iec": "IEC 62056-21 mode C",
            "lis200": "LIS-200 (EK280-like)",
            "mbus": "M-Bus gateway",
            "modbus": "Modbus TCP",
        }
        return [f"{labels[key]:<26} 127.0.0.1:{port}" for key, port in self.ports.items()]
