"""Wired M-Bus master: reads meters through a transparent TCP gateway or a serial level converter.

The link layer is half duplex and strictly master driven: we send one frame and wait for the slave's
single answer (an ``E5`` acknowledgement or an ``RSP_UD`` long frame). Every wait is bounded by
``timeout``; a multi-telegram read is bounded by ``max_telegrams``; so a call always ends.

**FCB.** REQ_UD2 carries a frame count bit that we toggle after every *good* answer. A slave that
sees the same FCB again repeats its last telegram instead of moving on, which is what makes retries
safe: a lost or garbled answer is asked for again with the same FCB and nothing is skipped. After
SND_NKE the slave expects FCB = 1 first, so that is where we start.

**Retry policy.** A request is sent up to ``1 + retries`` times. We retry on :class:`NoAnswer` (a
silent or slow slave) and on :class:`FrameError` (garbled bytes, a bad checksum, a collision of two
slaves on one address); before a retry we drain whatever is still arriving so the next answer is read
from a clean line. An application error (CI 0x70) is an answer, not a transmission fault, and is
raised at once as :class:`MBusApplicationError` (not permanent when the slave is only busy).

**Secondary addressing.** SND_UD with CI 0x52 to address 0xFD selects the slave whose id,
manufacturer, version and medium match (``F`` digits and 0xFF bytes are wildcards); it answers E5 and
from then on answers REQ_UD2 sent to 0xFD. Several matching slaves all answer E5, and identical
bytes superimpose cleanly on the bus, so a collision only shows in the RSP_UD that follows: the
wildcard scan therefore confirms each candidate with a REQ_UD2 and narrows the mask digit by digit
when the answer is garbled.

Serial converters default to 2400 baud, 8 data bits, even parity, 1 stop bit (8E1), the usual M-Bus
setting.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from protocols.errors import FrameError, NoAnswer, ProtocolError
from protocols.results import Reading, ReadResult
from protocols.transport import Transport, open_transport

from . import codec
from .codec import Frame, Telegram

log = logging.getLogger(__name__)

DEFAULT_BAUDRATE = 2400
MAX_PRIMARY_ADDRESS = 250


class MBusApplicationError(ProtocolError):
    """The slave answered with an application error (CI 0x70)."""

    def __init__(self, code: int | None, reason: str) -> None:
        # "Application busy" (8) clears by itself; everything else needs a person.
        super().__init__(f"application error: {reason}", permanent=code != 0x08)
        self.code = code


def open_mbus_transport(
    *,
    host: str | None = None,
    port: int | None = None,
    serial_port: str | None = None,
    baudrate: int = DEFAULT_BAUDRATE,
    timeout: float = 2.0,
) -> Transport:
    """A transport with M-Bus serial defaults (2400 baud 8E1); not opened yet."""
    return open_transport(
        host=host, port=port, serial_port=serial_port, baudrate=baudrate, parity="E", timeout=timeout
    )


@dataclass
class _SlaveState:
    fcb: bool = True


class MBusClient:
    """An M-Bus master over an *open* transport (the caller owns opening and closing it)."""

    def __init__(
        self,
        transport: Transport,
        *,
        timeout: float = 2.0,
        retries: int = 2,
        max_telegrams: int = 16,
        drain_timeout: float = 0.05,
    ) -> None:
        self.transport = transport
        self.timeout = timeout
        self.retries = retries
        self.max_telegrams = max_telegrams
        self.drain_timeout = drain_timeout
        self._slaves: dict[int, _SlaveState] = {}

    # -- frames -------------------------------------------------------------------------------

    def _read_frame(self) -> Frame:
        head = self.transport.read(1, timeout=self.timeout)
        size = codec.frame_size(head)
        if size is None and head[0] == codec.LONG_START:
            head += self.transport.read(3, timeout=self.timeout)
            size = codec.frame_size(head)
        assert size is not None
        raw = head + (
            self.transport.read(size - len(head), timeout=self.timeout) if size > len(head) else b""
        )
        return codec.decode_frame(raw)

    def _drain(self) -> None:
        """Discard what is still on the line after a garbled answer (bounded: 64 chunks)."""
        for _ in range(64):
            try:
                self.transport.read_some(timeout=self.drain_timeout)
            except NoAnswer:
                return
            except ProtocolError:  # pragma: no cover - transport failure while draining
                return

    def _exchange(self, request: bytes, *, expect: str, what: str, retries: int | None = None) -> Frame:
        """Send ``request`` and return the answer frame of kind ``expect``, retrying per the policy."""
        last: ProtocolError | None = None
        attempts = 1 + (self.retries if retries is None else retries)
        for attempt in range(attempts):
            if attempt:
                log.debug("retrying %s (attempt %d) after: %s", what, attempt + 1, last)
                self._drain()
            self.transport.write(request)
            try:
                frame = self._read_frame()
            except (NoAnswer, FrameError) as exc:
                last = exc
                continue
            if frame.kind != expect and not (expect == "long" and frame.kind == "control"):
                last = FrameError(f"{what}: expected a {expect} frame, got {frame.kind}")
                continue
            return frame
        assert last is not None
        self._drain()  # leave a clean line for whatever the caller sends next
        if isinstance(last, NoAnswer):
            raise NoAnswer(f"{what}: no answer after {attempts} attempts ({last.reason})")
        raise FrameError(f"{what}: no valid answer after {attempts} attempts ({last.reason})")

    # -- link-layer services --------------------------------------------------------------------

    def snd_nke(self, address: int) -> None:
        """Reset the slave's link layer (and its FCB and telegram sequence); expects E5."""
        _check_address(address)
        self._exchange(codec.encode_short(codec.SND_NKE, address), expect="ack", what=f"SND_NKE to {address}")
        self._slaves[address] = _SlaveState()

    def request_telegram(self, address: int) -> Telegram:
        """One REQ_UD2 with the current FCB; toggles FCB after a good answer."""
        state = self._slaves.setdefault(address, _SlaveState())
        control = codec.REQ_UD2 | (codec.FCB if state.fcb else 0)
        frame = self._exchange(
            codec.encode_short(control, address), expect="long", what=f"REQ_UD2 to {address}"
        )
        state.fcb = not state.fcb
        telegram = codec.decode_telegram(frame)
        if telegram.application_error is not None:
            code, reason = telegram.application_error
            raise MBusApplicationError(code, reason)
        if telegram.frame.control is not None and telegram.frame.control & 0x4F != codec.RSP_UD:
            raise FrameError(
                f"answer to REQ_UD2 has control field 0x{telegram.frame.control:02X}, not RSP_UD"
            )
        return telegram

    def iter_telegrams(self, address: int) -> Iterator[Telegram]:
        """REQ_UD2 repeatedly while the slave flags "more records follow" (DIF 0x1F)."""
        for _ in range(self.max_telegrams):
            telegram = self.request_telegram(address)
            yield telegram
            if not telegram.more_records_follow:
                return

    def select_secondary(
        self,
        identification: str,
        manufacturer: str | None = None,
        version: int | None = None,
        medium: int | None = None,
        *,
        retries: int | None = None,
    ) -> bool:
        """Select by secondary address; True when some slave acknowledged, False on silence."""
        data = codec.encode_secondary_address(identification, manufacturer, version, medium)
        request = codec.encode_long(codec.SND_UD, codec.ADDRESS_SECONDARY, codec.CI_SELECT, data)
        try:
            self._exchange(request, expect="ack", what=f"select {identification}", retries=retries)
        except NoAnswer:
            return False
        self._slaves[codec.ADDRESS_SECONDARY] = _SlaveState()
        return True

    # -- high level -------------------------------------------------------------------------------

    def read(
        self,
        *,
        address: int | None = None,
        secondary: str | None = None,
        manufacturer: str | None = None,
        reset: bool = True,
    ) -> ReadResult:
        """Read every telegram of one meter and return its numeric records as readings.

        Give a primary ``address`` (0..250) or a ``secondary`` id (8 digits, optionally with the
        ``manufacturer``). A failure before the first telegram raises; a failure in a later
        telegram returns what was read with ``error`` set.
        """
        if (address is None) == (secondary is None):
            raise ValueError("give exactly one of address or secondary")
        if secondary is not None:
            if not self.select_secondary(secondary, manufacturer):
                raise NoAnswer(f"no slave answered the selection of secondary address {secondary}")
            target = codec.ADDRESS_SECONDARY
        else:
            assert address is not None
            _check_address(address)
            target = address
            if reset:
                self.snd_nke(target)
        telegrams: list[Telegram] = []
        error = None
        try:
            for telegram in self.iter_telegrams(target):
                telegrams.append(telegram)
        except ProtocolError as exc:
            if not telegrams:
                raise
            error = f"telegram {len(telegrams) + 1}: {exc.reason}"
        return telegrams_result(telegrams, error=error, address=target)

    def scan_secondary(self, mask: str = "FFFFFFFF", *, manufacturer: str | None = None) -> list[str]:
        """Secondary ids of all slaves matching ``mask``, found by wildcard search.

        Bounded: each level tries at most ten digits and there are eight levels, so at most a few
        hundred selections even on a full bus. Silence is the normal answer for most masks, so a
        probe's selection is sent once (no retries): a scan costs about one ``timeout`` per empty
        digit, which is why narrowing ``mask`` pays.
        """
        found: list[str] = []
        self._scan(mask.upper(), manufacturer, found)
        return sorted(set(found))

    def _scan(self, mask: str, manufacturer: str | None, found: list[str]) -> None:
        position = mask.find("F")
        if position < 0:
            if self._probe(mask, manufacturer) == "one":
                found.append(mask)
            return
        for digit in "0123456789":
            candidate = mask[:position] + digit + mask[position + 1 :]
            outcome = self._probe(candidate, manufacturer)
            if outcome == "none":
                continue
            if outcome == "one":
                found.append(self._last_probe_id or candidate)
            else:
                self._scan(candidate, manufacturer, found)

    _last_probe_id: str | None = None

    def _probe(self, mask: str, manufacturer: str | None) -> str:
        """``none``, ``one`` or ``many`` slaves behind a selection mask."""
        self._last_probe_id = None
        try:
            if not self.select_secondary(mask, manufacturer, retries=0):
                return "none"
        except FrameError:
            return "many"  # acknowledgements that did not superimpose cleanly
        try:
            telegram = self.request_telegram(codec.ADDRESS_SECONDARY)
        except FrameError:
            return "many"
        except NoAnswer:
            return "none"
        self._last_probe_id = telegram.header.identification if telegram.header else None
        return "one"

    def scan_primary(self, addresses: range = range(0, MAX_PRIMARY_ADDRESS + 1)) -> list[int]:
        """Primary addresses that acknowledge SND_NKE (one try each, to keep a scan short)."""
        saved, self.retries = self.retries, 0
        try:
            present = []
            for address in addresses:
                try:
                    self.snd_nke(address)
                except NoAnswer:
                    continue
                except FrameError:
                    present.append(address)  # a garbled answer still means someone is there
                    continue
                present.append(address)
            return present
        finally:
            self.retries = saved


def _check_address(address: int) -> None:
    if not (0 <= address <= MAX_PRIMARY_ADDRESS or address in (codec.ADDRESS_SECONDARY, 0xFE)):
        raise ValueError(f"primary address must be 0..250 (or 253/254), got {address}")


def telegrams_result(
    telegrams: list[Telegram], *, error: str | None = None, address: int | None = None
) -> ReadResult:
    """Readings and info of a multi-telegram read, with series names unique across telegrams."""
    records = [record for telegram in telegrams for record in telegram.records]
    names = codec.unique_series(records)
    readings: list[Reading] = []
    texts: dict[str, str] = {}
    for record, name in zip(records, names, strict=True):
        if record.value is not None:
            extra: dict[str, Any] = {"quantity": record.quantity, "vif": record.vif.hex().upper()}
            if record.error:
                extra["record_error"] = record.error
            readings.append(Reading(series=name, value=record.value, unit=record.unit, extra=extra))
        elif record.text is not None:
            texts[name] = record.text
    info: dict[str, Any] = {"address": address, "telegrams": len(telegrams), "texts": texts}
    header = next((t.header for t in telegrams if t.header is not None), None)
    if header is not None:
        info["header"] = header.to_dict()
    clock = next(
        (r for r in records if r.quantity == "Time point (date & time)" and r.storage == 0 and r.moment), None
    )
    if clock is not None:
        info["meter_time"] = clock.text  # the meter's local time; the caller knows its zone
    blobs = [t.manufacturer_data.hex() for t in telegrams if t.manufacturer_data]
    if blobs:
        info["manufacturer_data"] = blobs
    return ReadResult(readings=readings, info=info, error=error)
