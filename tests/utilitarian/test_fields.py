"""Exact decimals and encryption at rest, on whichever database the suite runs against."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from meters.models import MeterDevice, MeterReading, MeterReadingSeries, MeterSecurityKeyCollection
from tests.support.factories import OrganizationFactory
from utilitarian.fields import parse_exact_decimal


@pytest.fixture
def reading_parts(db):
    org = OrganizationFactory()
    meter = MeterDevice.objects.create(organization=org, name="m1", protocol="mbus")
    series = MeterReadingSeries.objects.create(organization=org, name="energy", unit="kWh")
    return org, meter, series


@pytest.mark.parametrize(
    "text",
    ["0.1", "0.10", "12345678901234567890.123456789012345678", "-0.000000000000000000001", "1E+3", "7"],
)
def test_reading_values_round_trip_digit_for_digit(reading_parts, text: str) -> None:
    org, meter, series = reading_parts
    reading = MeterReading.objects.create(
        organization=org, meter_device=meter, series=series, timestamp="2026-01-01T00:00:00Z", value=text
    )
    stored = MeterReading.objects.get(pk=reading.pk).value
    assert isinstance(stored, Decimal)
    assert stored == Decimal(text)
    assert format(stored, "f") == format(Decimal(text), "f")  # scale kept: 0.10 stays 0.10


@pytest.mark.parametrize("bad", [0.1, "NaN", "Infinity", "abc", True, "1" * 41])
def test_inexact_or_non_finite_values_are_refused(bad) -> None:
    with pytest.raises(ValueError):
        parse_exact_decimal(bad)


def test_key_material_is_not_stored_in_clear(reading_parts) -> None:
    _, meter, _ = reading_parts
    secret = "000102030405060708090a0b0c0d0e0f"
    keys = MeterSecurityKeyCollection.objects.create(
        meter=meter, dlms_master_key=secret, iec62056_21_password="pw"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT dlms_master_key, iec62056_21_password FROM meters_metersecuritykeycollection WHERE id = %s",
            [keys.pk.hex if connection.vendor == "sqlite" else keys.pk],
        )
        raw_master, raw_password = cursor.fetchone()
    assert secret not in raw_master and raw_master.startswith("fernet:")
    assert raw_password != "pw"
    reloaded = MeterSecurityKeyCollection.objects.get(pk=keys.pk)
    assert reloaded.dlms_master_key == secret
    assert secret not in repr(reloaded) and secret not in str(reloaded)
