"""The list filters of the contract, as declarations (one FilterSet per resource).

Values are matched exactly; hexadecimal DLMS identifiers ignore case (``0a1B`` finds ``0A1b``).
"""

from __future__ import annotations

import django_filters

from ..models import MeterDevice, MeterReadingSeries, MeterSecurityKeyCollection, SimCard


class MeterDeviceFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter()
    external_system_reference = django_filters.CharFilter()
    manufacturer_serial = django_filters.CharFilter()
    dlms_logical_device_name = django_filters.CharFilter(lookup_expr="iexact")
    dlms_system_title = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = MeterDevice
        fields = [
            "name",
            "external_system_reference",
            "manufacturer_serial",
            "dlms_logical_device_name",
            "dlms_system_title",
        ]


class SimCardFilterSet(django_filters.FilterSet):
    iccid = django_filters.CharFilter()
    imsi = django_filters.CharFilter()

    class Meta:
        model = SimCard
        fields = ["iccid", "imsi"]


class MeterReadingSeriesFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter()
    unit = django_filters.CharFilter()

    class Meta:
        model = MeterReadingSeries
        fields = ["name", "unit"]


class MeterSecurityKeyCollectionFilterSet(django_filters.FilterSet):
    meter = django_filters.UUIDFilter(field_name="meter_id")
    meter_name = django_filters.CharFilter(field_name="meter__name")
    meter_external_system_reference = django_filters.CharFilter(field_name="meter__external_system_reference")
    meter_manufacturer_serial = django_filters.CharFilter(field_name="meter__manufacturer_serial")
    meter_dlms_system_title = django_filters.CharFilter(
        field_name="meter__dlms_system_title", lookup_expr="iexact"
    )
    meter_dlms_logical_device_name = django_filters.CharFilter(
        field_name="meter__dlms_logical_device_name", lookup_expr="iexact"
    )

    class Meta:
        model = MeterSecurityKeyCollection
        fields = [
            "meter",
            "meter_name",
            "meter_external_system_reference",
            "meter_manufacturer_serial",
            "meter_dlms_system_title",
            "meter_dlms_logical_device_name",
        ]
