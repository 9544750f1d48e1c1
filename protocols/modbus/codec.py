"""Our own Modbus codec: register values to exact Decimals, and ADU parsing for the frame inspector.

Why not pymodbus's ``convert_from_registers``: it knows word order but not byte order inside a
register (devices with "BADC" layouts exist), and it hands back Python floats for float types that
callers then tend to scale in float arithmetic. Here every integer stays an ``int`` until it becomes
``Decimal(int) * scale``, and the float types are decoded from their IEEE bits with ``struct``:

* float64: ``Decimal(repr(value))``. The float is what the meter sends; ``repr`` is the shortest
  string that reads back to exactly that float, so it carries the meter's value and nothing more
  (``Decimal(value)`` would instead spell out the binary expansion, 0.1 -> 0.1000000000000000055...).
* float32: the same idea applied to the 32-bit value. Widening a float32 to a Python float and
  taking ``repr`` of *that* gives the expansion of the float32 (0.1f -> 0.10000000149011612), so we
  take the shortest decimal that packs back to the same 32 bits (0.1f -> 0.1). It still identifies
  the meter's bits uniquely; it just doesn't invent digits the meter never had.

NaN and infinities are refused (:class:`ValueError`): many devices use them as "no value", and a
reading table cannot hold them.

The ADU half parses RTU frames (address, PDU, CRC-16/MODBUS, CRC sent low byte first) and TCP frames
(MBAP header: transaction, protocol 0, length, unit) into plain dicts. It is deliberately independent
of pymodbus's framers, which resynchronise silently on garbage: an inspector must say *why* a frame
is rejected.
"""

from __future__ import annotations

import math
import struct
from decimal import Context, Decimal
from typing import Any

from ..errors import FrameError
from .registers import RegisterEntry

# Enough digits for a 64-bit integer times any sane scale, so the multiplication is exact.
_EXACT = Context(prec=60)

_STRUCT_CODES = {
    "int16": "h",
    "uint16": "H",
    "int32": "i",
    "uint32": "I",
    "int64": "q",
    "uint64": "Q",
    "float32": "f",
    "float64": "d",
}

EXCEPTION_CODES: dict[int, str] = {
    0x01: "illegal function",
    0x02: "illegal data address",
    0x03: "illegal data value",
    0x04: "server device failure",
    0x05: "acknowledge (request accepted, still processing)",
    0x06: "server device busy",
    0x07: "negative acknowledge",
    0x08: "memory parity error",
    0x0A: "gateway path unavailable",
    0x0B: "gateway target device failed to respond",
}

FUNCTION_NAMES: dict[int, str] = {
    0x01: "read coils",
    0x02: "read discrete inputs",
    0x03: "read holding registers",
    0x04: "read input registers",
    0x05: "write single coil",
    0x06: "write single register",
    0x0F: "write multiple coils",
    0x10: "write multiple registers",
    0x17: "read/write multiple registers",
}
FUNCTION_CODES = {"holding": 0x03, "input": 0x04}


def exception_reason(code: int) -> str:
    return EXCEPTION_CODES.get(code, f"unknown exception code {code}")


# --------------------------------------------------------------------------- values


def registers_to_bytes(registers: list[int], *, byte_order: str, word_order: str) -> bytes:
    """Reorder registers into the big-endian byte string of the value they hold."""
    words = list(reversed(registers)) if word_order == "little" else list(registers)
    out = bytearray()
    for word in words:
        if not 0 <= word <= 0xFFFF:
            raise ValueError(f"register value {word} is not 16-bit")
        out += word.to_bytes(2, "little" if byte_order == "little" else "big")
    return bytes(out)


def bytes_to_registers(raw: bytes, *, byte_order: str, word_order: str) -> list[int]:
    """Inverse of :func:`registers_to_bytes`."""
    words = [
        int.from_bytes(raw[i : i + 2], "little" if byte_order == "little" else "big")
        for i in range(0, len(raw), 2)
    ]
    return list(reversed(words)) if word_order == "little" else words


def float32_text(raw: bytes) -> str:
    """Shortest decimal text that packs back into exactly these 4 (big-endian) bytes."""
    value = struct.unpack(">f", raw)[0]
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if struct.pack(">f", float(text)) == raw:
            return text
    return repr(value)  # pragma: no cover - 9 significant digits always round-trip a float32


def decode_raw(data_type: str, raw: bytes) -> Decimal:
    """Big-endian bytes of one value -> unscaled exact Decimal."""
    code = _STRUCT_CODES[data_type]
    value = struct.unpack(">" + code, raw)[0]
    if data_type == "float32":
        if not math.isfinite(value):
            raise ValueError(f"float32 {value} is not a number")
        return Decimal(float32_text(raw))
    if data_type == "float64":
        if not math.isfinite(value):
            raise ValueError(f"float64 {value} is not a number")
        return Decimal(repr(value))
    return Decimal(value)


def decode_entry(entry: RegisterEntry, registers: list[int]) -> Decimal:
    """Registers of one entry (as read, in wire order) -> exact scaled value."""
    if len(registers) != entry.count:
        raise ValueError(f"{entry.series}: expected {entry.count} registers, got {len(registers)}")
    raw = registers_to_bytes(registers, byte_order=entry.byte_order, word_order=entry.word_order)
    return _EXACT.multiply(decode_raw(entry.data_type, raw), entry.multiplier)


def encode_entry(entry: RegisterEntry, value: Decimal | int | str) -> list[int]:
    """Scaled value -> registers in wire order. Used by the simulator; refuses inexact integers."""
    unscaled = _EXACT.divide(Decimal(value), entry.multiplier)
    code = _STRUCT_CODES[entry.data_type]
    if entry.data_type.startswith("float"):
        raw = struct.pack(">" + code, float(unscaled))
    else:
        if unscaled != unscaled.to_integral_value():
            raise ValueError(f"{entry.series}: {value} is not a whole number of {entry.scale}")
        try:
            raw = struct.pack(">" + code, int(unscaled))
        except struct.error as exc:
            raise ValueError(f"{entry.series}: {value} does not fit {entry.data_type}") from exc
    return bytes_to_registers(raw, byte_order=entry.byte_order, word_order=entry.word_order)


# --------------------------------------------------------------------------- frames


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (reflected polynomial 0xA001, initial 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def add_crc(frame: bytes) -> bytes:
    return frame + crc16_modbus(frame).to_bytes(2, "little")


def _registers(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _bits(data: bytes, count: int | None = None) -> list[int]:
    bits = [(byte >> i) & 1 for byte in data for i in range(8)]
    return bits if count is None else bits[:count]


def _request_body(function: int, data: bytes) -> dict[str, Any] | None:
    """Decode the data of a request PDU, or None when it does not fit the request layout."""
    if function in (0x01, 0x02, 0x03, 0x04) and len(data) == 4:
        address, count = struct.unpack(">HH", data)
        return {"address": address, "count": count}
    if function in (0x05, 0x06) and len(data) == 4:
        address, value = struct.unpack(">HH", data)
        return {"address": address, "value": value}
    if function in (0x0F, 0x10) and len(data) >= 5:
        address, count, byte_count = struct.unpack(">HHB", data[:5])
        if byte_count != len(data) - 5:
            return None
        values = data[5:]
        body: dict[str, Any] = {"address": address, "count": count}
        body["values"] = _registers(values) if function == 0x10 else _bits(values, count)
        return body
    return None


def _response_body(function: int, data: bytes) -> dict[str, Any] | None:
    if function in (0x01, 0x02, 0x03, 0x04) and data:
        byte_count = data[0]
        if byte_count != len(data) - 1:
            return None
        if function in (0x03, 0x04):
            if byte_count % 2:
                return None
            return {"byte_count": byte_count, "registers": _registers(data[1:])}
        return {"byte_count": byte_count, "bits": _bits(data[1:])}
    if function in (0x05, 0x06) and len(data) == 4:
        address, value = struct.unpack(">HH", data)
        return {"address": address, "value": value}
    if function in (0x0F, 0x10) and len(data) == 4:
        address, count = struct.unpack(">HH", data)
        return {"address": address, "count": count}
    return None


def decode_pdu(pdu: bytes, direction: str = "auto") -> dict[str, Any]:
    """Decode a PDU. RTU/TCP frames do not say whether they are requests or responses; ``auto``
    tries the layout that fits the length (a response for reads when the byte count agrees)."""
    if not pdu:
        raise FrameError("empty PDU: no function code")
    function = pdu[0]
    data = pdu[1:]
    if function & 0x80:
        base = function & 0x7F
        if len(data) != 1:
            raise FrameError(f"exception response for function {base} must carry one byte, has {len(data)}")
        return {
            "kind": "exception",
            "function": base,
            "function_name": FUNCTION_NAMES.get(base, "unknown"),
            "exception_code": data[0],
            "exception": exception_reason(data[0]),
        }
    name = FUNCTION_NAMES.get(function)
    if name is None:
        return {"kind": "unknown", "function": function, "data": data.hex()}
    orders = {"request": ("request",), "response": ("response",), "auto": ("response", "request")}[direction]
    if direction == "auto" and function in (0x0F, 0x10) and len(data) != 4:
        orders = ("request",)
    for kind in orders:
        body = _request_body(function, data) if kind == "request" else _response_body(function, data)
        if body is not None:
            return {"kind": kind, "function": function, "function_name": name, **body}
    raise FrameError(f"{name}: {len(data)} data bytes fit neither a request nor a response")


def decode_rtu(frame: bytes, direction: str = "auto") -> dict[str, Any]:
    """Modbus RTU ADU: unit id, PDU, CRC (low byte first). A wrong CRC rejects the frame."""
    if len(frame) < 4:
        raise FrameError(f"RTU frame of {len(frame)} bytes is shorter than the 4-byte minimum")
    if len(frame) > 256:
        raise FrameError(f"RTU frame of {len(frame)} bytes exceeds the 256-byte maximum")
    body, received = frame[:-2], int.from_bytes(frame[-2:], "little")
    computed = crc16_modbus(body)
    if received != computed:
        raise FrameError(f"CRC mismatch: frame carries 0x{received:04X}, computed 0x{computed:04X}")
    return {
        "framing": "rtu",
        "unit_id": body[0],
        "crc": f"0x{computed:04X}",
        **decode_pdu(body[1:], direction),
    }


def decode_tcp(frame: bytes, direction: str = "auto") -> dict[str, Any]:
    """Modbus TCP ADU: MBAP header (transaction, protocol 0, length of unit id + PDU) then PDU."""
    if len(frame) < 8:
        raise FrameError(f"TCP frame of {len(frame)} bytes is shorter than MBAP header + function code")
    transaction, protocol, length, unit = struct.unpack(">HHHB", frame[:7])
    if protocol != 0:
        raise FrameError(f"MBAP protocol identifier is {protocol}, Modbus uses 0")
    if length != len(frame) - 6:
        raise FrameError(f"MBAP length field says {length} bytes follow, frame has {len(frame) - 6}")
    return {
        "framing": "tcp",
        "transaction_id": transaction,
        "unit_id": unit,
        **decode_pdu(frame[7:], direction),
    }


def split_tcp_stream(data: bytes) -> list[bytes]:
    """Cut a byte stream of back-to-back TCP ADUs into frames by their MBAP length fields."""
    frames = []
    while data:
        if len(data) < 7:
            raise FrameError(f"{len(data)} trailing bytes are too few for an MBAP header")
        length = int.from_bytes(data[4:6], "big")
        if length < 2 or len(data) < 6 + length:
            raise FrameError(f"MBAP length {length} does not fit the {len(data) - 6} bytes that follow")
        frames.append(data[: 6 + length])
        data = data[6 + length :]
    return frames


def build_tcp_adu(transaction: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


def build_rtu_adu(unit: int, pdu: bytes) -> bytes:
    return add_crc(bytes([unit]) + pdu)
