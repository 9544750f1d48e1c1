"""Code tables of EN 13757-3 (value information, media, fixed-structure units, application errors).

Kept apart from the parser so the parser reads as the wire format and these read as the standard's
tables. Each value-information entry says what quantity a code measures, in which unit the scaled
value is expressed, and how to scale the raw number: ``exponent`` is a power of ten and ``factor``
an exact integer multiplier. Durations are normalised to seconds (a factor of 60, 3600 or 86400 is
exact), so a series keeps one unit whichever resolution a meter chooses; months and years cannot be
converted exactly and keep their own unit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ValueInfo:
    """What a VIF (or the true VIF of an extension table) means."""

    quantity: str
    unit: str = ""
    exponent: int = 0
    factor: int = 1
    kind: str = "number"  # number | date | datetime | text-id | enhanced-id | manufacturer | any


# Duration sub-codes ``nn`` of the primary table: seconds, minutes, hours, days.
_DURATION = ((1, "s"), (60, "s"), (3600, "s"), (86400, "s"))
# Duration sub-codes ``pp`` of the FD table (battery time, time since cumulation): hours .. years.
_LONG_DURATION = ((3600, "s"), (86400, "s"), (1, "month"), (1, "year"))


def _primary() -> dict[int, ValueInfo]:
    table: dict[int, ValueInfo] = {}
    for n in range(8):
        table[0x00 + n] = ValueInfo("Energy", "Wh", n - 3)
        table[0x08 + n] = ValueInfo("Energy", "J", n)
        table[0x10 + n] = ValueInfo("Volume", "m³", n - 6)
        table[0x18 + n] = ValueInfo("Mass", "kg", n - 3)
        table[0x28 + n] = ValueInfo("Power", "W", n - 3)
        table[0x30 + n] = ValueInfo("Power", "J/h", n)
        table[0x38 + n] = ValueInfo("Volume flow", "m³/h", n - 6)
        table[0x40 + n] = ValueInfo("Volume flow", "m³/min", n - 7)
        table[0x48 + n] = ValueInfo("Volume flow", "m³/s", n - 9)
        table[0x50 + n] = ValueInfo("Mass flow", "kg/h", n - 3)
    for n in range(4):
        factor, unit = _DURATION[n]
        table[0x20 + n] = ValueInfo("On time", unit, 0, factor)
        table[0x24 + n] = ValueInfo("Operating time", unit, 0, factor)
        table[0x58 + n] = ValueInfo("Flow temperature", "°C", n - 3)
        table[0x5C + n] = ValueInfo("Return temperature", "°C", n - 3)
        table[0x60 + n] = ValueInfo("Temperature difference", "K", n - 3)
        table[0x64 + n] = ValueInfo("External temperature", "°C", n - 3)
        table[0x68 + n] = ValueInfo("Pressure", "bar", n - 3)
        table[0x70 + n] = ValueInfo("Averaging duration", unit, 0, factor)
        table[0x74 + n] = ValueInfo("Actuality duration", unit, 0, factor)
    table[0x6C] = ValueInfo("Time point (date)", kind="date")
    table[0x6D] = ValueInfo("Time point (date & time)", kind="datetime")
    table[0x6E] = ValueInfo("Units for H.C.A.")
    table[0x6F] = ValueInfo("Reserved")
    table[0x78] = ValueInfo("Fabrication No")
    table[0x79] = ValueInfo("(Enhanced) Identification", kind="enhanced-id")
    table[0x7A] = ValueInfo("Bus address")
    table[0x7E] = ValueInfo("Any VIF", kind="any")
    table[0x7F] = ValueInfo("Manufacturer specific", kind="manufacturer")
    return table


def _extension_fd() -> dict[int, ValueInfo]:
    """The main VIF extension table (true VIF after 0xFD)."""
    table: dict[int, ValueInfo] = {}
    for n in range(4):
        table[0x00 + n] = ValueInfo("Credit", "currency units", n - 3)
        table[0x04 + n] = ValueInfo("Debit", "currency units", n - 3)
        factor, unit = _DURATION[n]
        table[0x24 + n] = ValueInfo("Storage interval", unit, 0, factor)
        table[0x2C + n] = ValueInfo("Duration since last readout", unit, 0, factor)
        table[0x34 + n] = ValueInfo("Period of tariff", unit, 0, factor)
        long_factor, long_unit = _LONG_DURATION[n]
        table[0x68 + n] = ValueInfo("Duration since last cumulation", long_unit, 0, long_factor)
        table[0x6C + n] = ValueInfo("Operating time battery", long_unit, 0, long_factor)
    for n in range(1, 4):
        table[0x30 + n] = ValueInfo("Duration of tariff", _DURATION[n][1], 0, _DURATION[n][0])
    names = {
        0x08: "Access number",
        0x09: "Medium",
        0x0A: "Manufacturer",
        0x0B: "Parameter set identification",
        0x0C: "Model / Version",
        0x0D: "Hardware version",
        0x0E: "Firmware version",
        0x0F: "Software version",
        0x10: "Customer location",
        0x11: "Customer",
        0x12: "Access code user",
        0x13: "Access code operator",
        0x14: "Access code system operator",
        0x15: "Access code developer",
        0x16: "Password",
        0x17: "Error flags",
        0x18: "Error mask",
        0x1A: "Digital output",
        0x1B: "Digital input",
        0x1C: "Baud rate",
        0x1D: "Response delay time",
        0x1E: "Retry",
        0x1F: "Remote control",
        0x20: "First storage number for cyclic storage",
        0x21: "Last storage number for cyclic storage",
        0x22: "Size of storage block",
        0x28: "Storage interval months",
        0x29: "Storage interval years",
        0x2A: "Operator specific data",
        0x2B: "Time point second",
        0x38: "Period of tariff months",
        0x39: "Period of tariff years",
        0x3A: "Dimensionless",
        0x60: "Reset counter",
        0x61: "Cumulation counter",
        0x62: "Control signal",
        0x63: "Day of week",
        0x64: "Week number",
        0x65: "Time point of day change",
        0x66: "State of parameter activation",
        0x67: "Special supplier information",
        0x71: "RF level",
        0x72: "Daylight saving",
        0x73: "Listening window management",
        0x74: "Remaining battery life time",
        0x75: "Number of times the meter was stopped",
        0x76: "Data container for manufacturer specific protocol",
    }
    for code, name in names.items():
        table[code] = ValueInfo(name)
    table[0x1C] = ValueInfo("Baud rate", "Bd")
    table[0x1D] = ValueInfo("Response delay time", "bit times")
    table[0x30] = ValueInfo("Start of tariff", kind="datetime")
    table[0x70] = ValueInfo("Date and time of battery change", kind="datetime")
    table[0x71] = ValueInfo("RF level", "dBm")
    table[0x74] = ValueInfo("Remaining battery life time", "s", 0, 86400)
    for n in range(16):
        table[0x40 + n] = ValueInfo("Voltage", "V", n - 9)
        table[0x50 + n] = ValueInfo("Current", "A", n - 12)
    return table


def _extension_fb() -> dict[int, ValueInfo]:
    """The alternate extension table (true VIF after 0xFB): large units and non-metric units."""
    table: dict[int, ValueInfo] = {}
    for n in range(2):
        table[0x00 + n] = ValueInfo("Energy", "Wh", n + 5)  # 10^(n-1) MWh
        table[0x02 + n] = ValueInfo("Reactive energy", "varh", n + 3)  # 10^n kvarh
        table[0x08 + n] = ValueInfo("Energy", "J", n + 8)  # 10^(n-1) GJ
        table[0x10 + n] = ValueInfo("Volume", "m³", n + 2)
        table[0x18 + n] = ValueInfo("Mass", "kg", n + 5)  # 10^(n+2) t
        table[0x28 + n] = ValueInfo("Power", "W", n + 5)  # 10^(n-1) MW
        table[0x30 + n] = ValueInfo("Power", "J/h", n + 8)  # 10^(n-1) GJ/h
    for n in range(4):
        table[0x0C + n] = ValueInfo("Energy", "cal", n + 5)  # 10^(n-1) Mcal
        table[0x58 + n] = ValueInfo("Flow temperature", "°F", n - 3)
        table[0x5C + n] = ValueInfo("Return temperature", "°F", n - 3)
        table[0x60 + n] = ValueInfo("Temperature difference", "°F", n - 3)
        table[0x64 + n] = ValueInfo("External temperature", "°F", n - 3)
        table[0x70 + n] = ValueInfo("Cold / warm temperature limit", "°F", n - 3)
        table[0x74 + n] = ValueInfo("Cold / warm temperature limit", "°C", n - 3)
    table[0x21] = ValueInfo("Volume", "ft³", -1)
    table[0x22] = ValueInfo("Volume", "US gal", -1)
    table[0x23] = ValueInfo("Volume", "US gal", 0)
    table[0x24] = ValueInfo("Volume flow", "US gal/min", -3)
    table[0x25] = ValueInfo("Volume flow", "US gal/min", 0)
    table[0x26] = ValueInfo("Volume flow", "US gal/h", 0)
    for n in range(8):
        table[0x78 + n] = ValueInfo("Cumulative count max power", "W", n - 3)
    return table


PRIMARY = _primary()
EXTENSION_FD = _extension_fd()
EXTENSION_FB = _extension_fb()


def _combinable() -> dict[int, str]:
    """Orthogonal VIFE codes that qualify a value (slave to master direction)."""
    table = {
        0x20: "per second",
        0x21: "per minute",
        0x22: "per hour",
        0x23: "per day",
        0x24: "per week",
        0x25: "per month",
        0x26: "per year",
        0x27: "per revolution / measurement",
        0x28: "increment per input pulse on channel 0",
        0x29: "increment per input pulse on channel 1",
        0x2A: "increment per output pulse on channel 0",
        0x2B: "increment per output pulse on channel 1",
        0x2C: "per litre",
        0x2D: "per m³",
        0x2E: "per kg",
        0x2F: "per K",
        0x30: "per kWh",
        0x31: "per GJ",
        0x32: "per kW",
        0x33: "per K·l",
        0x34: "per V",
        0x35: "per A",
        0x36: "multiplied by s",
        0x37: "multiplied by s/V",
        0x38: "multiplied by s/A",
        0x39: "start date(/time) of",
        0x3A: "uncorrected unit",
        0x3B: "accumulation only if positive",
        0x3C: "accumulation of abs value only if negative",
        0x3D: "non-metric unit",
        0x3E: "value at base conditions",
        0x3F: "OBIS declaration",
        0x40: "lower limit value",
        0x48: "upper limit value",
        0x41: "number of exceeds of lower limit",
        0x49: "number of exceeds of upper limit",
        0x7E: "future value",
        0x7F: "manufacturer specific",
    }
    for upper, word in ((0, "lower"), (0x08, "upper")):
        for first_last, fl_word in ((0, "first"), (0x04, "last")):
            table[0x42 + upper + first_last] = f"date of begin of {fl_word} {word} limit exceed"
            table[0x43 + upper + first_last] = f"date of end of {fl_word} {word} limit exceed"
            for nn, unit in enumerate(("s", "min", "h", "d")):
                table[0x50 + upper + first_last + nn] = f"duration of {fl_word} {word} limit exceed ({unit})"
    for first_last, fl_word in ((0, "first"), (0x04, "last")):
        for nn, unit in enumerate(("s", "min", "h", "d")):
            table[0x60 + first_last + nn] = f"duration of {fl_word} ({unit})"
    table[0x68] = "value during lower limit exceed"
    table[0x6C] = "value during upper limit exceed"
    for code, text in ((0x6A, "first begin"), (0x6B, "first end"), (0x6E, "last begin"), (0x6F, "last end")):
        table[code] = f"date of {text}"
    for nn in range(4):
        table[0x78 + nn] = f"additive correction constant 10^{nn - 3}"
    return table


COMBINABLE = _combinable()

# Record error codes a slave may put in a VIFE (E000 xxxx), keyed by code.
RECORD_ERRORS = {
    0x00: "no error",
    0x01: "too many DIFEs",
    0x02: "storage number not implemented",
    0x03: "unit number not implemented",
    0x04: "tariff number not implemented",
    0x05: "function not implemented",
    0x06: "data class not implemented",
    0x07: "data size not implemented",
    0x0B: "too many VIFEs",
    0x0C: "illegal VIF group",
    0x0D: "illegal VIF exponent",
    0x0E: "VIF/DIF mismatch",
    0x0F: "unimplemented action",
    0x15: "no data available",
    0x16: "data overflow",
    0x17: "data underflow",
    0x18: "data error",
    0x1C: "premature end of record",
}

MEDIUM = {
    0x00: "Other",
    0x01: "Oil",
    0x02: "Electricity",
    0x03: "Gas",
    0x04: "Heat (outlet)",
    0x05: "Steam",
    0x06: "Warm water (30-90 °C)",
    0x07: "Water",
    0x08: "Heat cost allocator",
    0x09: "Compressed air",
    0x0A: "Cooling load meter (outlet)",
    0x0B: "Cooling load meter (inlet)",
    0x0C: "Heat (inlet)",
    0x0D: "Heat / cooling load meter",
    0x0E: "Bus / system component",
    0x0F: "Unknown medium",
    0x14: "Calorific value",
    0x15: "Hot water (>= 90 °C)",
    0x16: "Cold water",
    0x17: "Dual register (hot/cold) water meter",
    0x18: "Pressure",
    0x19: "A/D converter",
    0x1A: "Smoke detector",
    0x1B: "Room sensor",
    0x1C: "Gas detector",
    0x20: "Breaker (electricity)",
    0x21: "Valve (gas or water)",
    0x25: "Customer unit (display device)",
    0x28: "Waste water",
    0x29: "Garbage",
    0x2A: "Carbon dioxide",
    0x31: "Communication controller",
    0x32: "Unidirectional repeater",
    0x33: "Bidirectional repeater",
    0x36: "Radio converter (system side)",
    0x37: "Radio converter (meter side)",
}

# CI 0x70 application error codes (slave to master).
APPLICATION_ERRORS = {
    0x00: "unspecified error",
    0x01: "unimplemented CI field",
    0x02: "buffer too long, truncated",
    0x03: "too many records",
    0x04: "premature end of record",
    0x05: "more than 10 DIFEs",
    0x06: "more than 10 VIFEs",
    0x07: "reserved",
    0x08: "application busy",
    0x09: "too many readouts",
}


def _fixed_units() -> dict[int, tuple[str, str, int]]:
    """Units of the fixed data structure (CI 0x73): code -> (quantity, unit, exponent)."""
    table: dict[int, tuple[str, str, int]] = {
        0x00: ("Time", "h,m,s", 0),
        0x01: ("Date", "D,M,Y", 0),
        0x38: ("Temperature", "°C", 0),
        0x39: ("Units for H.C.A.", "", 0),
        0x3E: ("Same unit, historic value", "", 0),
        0x3F: ("Without unit", "", 0),
    }
    rows = (
        (0x02, "Energy", "Wh", 0),
        (0x05, "Energy", "Wh", 3),
        (0x08, "Energy", "Wh", 6),
        (0x0B, "Energy", "J", 3),
        (0x0E, "Energy", "J", 6),
        (0x11, "Energy", "J", 9),
        (0x14, "Power", "W", 0),
        (0x17, "Power", "W", 3),
        (0x1A, "Power", "W", 6),
        (0x1D, "Power", "J/h", 3),
        (0x20, "Power", "J/h", 6),
        (0x23, "Power", "J/h", 9),
        (0x26, "Volume", "m³", -6),
        (0x29, "Volume", "m³", -3),
        (0x2C, "Volume", "m³", 0),
        (0x2F, "Volume flow", "m³/h", -6),
        (0x32, "Volume flow", "m³/h", -3),
        (0x35, "Volume flow", "m³/h", 0),
    )
    for code, quantity, unit, exponent in rows:
        for step in range(3):
            table[code + step] = (quantity, unit, exponent + step)
    return table


FIXED_UNITS = _fixed_units()
