"""factory_boy factories for the meters and amr models (shared by the inventory, readings and AMR
tests). Every factory is organization-scoped: pass ``organization=`` (default: a new one) and the
related objects it creates land in the same organization."""

from __future__ import annotations

import factory

from amr.models import AmrTask, AmrTaskGroup, Schedule
from meters.models import (
    MeterDevice,
    MeterDeviceConfig,
    MeterDeviceType,
    MeterReadingSeries,
    MeterSecurityKeyCollection,
    NetworkInterface,
    Protocol,
    SimCard,
)
from tests.support.factories import OrganizationFactory


class SimCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SimCard

    organization = factory.SubFactory(OrganizationFactory)
    iccid = factory.Sequence(lambda n: f"8931{n:016d}")
    imsi = factory.Sequence(lambda n: f"204{n:012d}")
    ip_address = factory.Sequence(lambda n: f"10.{(n // 65536) % 256}.{(n // 256) % 256}.{n % 256}")
    phone_number = None


class NetworkInterfaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NetworkInterface

    organization = factory.SubFactory(OrganizationFactory)
    static_ip_address = None
    fqdn = factory.Sequence(lambda n: f"modem{n}.example.test")
    port = 4059
    sim = None
    can_block = True


class MeterReadingSeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MeterReadingSeries

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"series-{n}")
    description = ""
    unit = "kWh"
    si_multiplier = "1000"


class MeterDeviceConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MeterDeviceConfig
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"config-{n}")
    timezone = "Europe/Amsterdam"

    @factory.post_generation
    def series(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.series.set(extracted)


class MeterDeviceTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MeterDeviceType

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"type-{n}")
    manufacturer = "Landis+Gyr"
    manufacturer_model = "E350"
    config = None


class AmrTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AmrTask

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"task-{n}")
    schedule = Schedule.HOURLY
    run_offset_seconds = 0
    meter_execution_type = "generic_iec6205621"
    task_call = "readout"
    task_kwargs = None
    is_active = True


class AmrTaskGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AmrTaskGroup
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"group-{n}")

    @factory.post_generation
    def tasks(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.tasks.set(extracted)


class MeterDeviceFactory(factory.django.DjangoModelFactory):
    """A meter device; ``MeterDeviceFactory(organization=org, network_interface__fqdn=...)`` or
    pass ``network_interface=None`` / ``type=None`` to leave them out."""

    class Meta:
        model = MeterDevice
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"meter-{n}")
    external_system_reference = factory.Sequence(lambda n: f"EXT-{n}")
    manufacturer_serial = factory.Sequence(lambda n: f"SN{n:08d}")
    protocol = Protocol.IEC62056_21
    type = None
    network_interface = None

    @factory.post_generation
    def task_groups(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.task_groups.set(extracted)

    @factory.post_generation
    def meter_tasks(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.meter_tasks.set(extracted)


class MeterSecurityKeyCollectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MeterSecurityKeyCollection

    meter = factory.SubFactory(MeterDeviceFactory)
    iec62056_21_password = None
    dlms_global_unicast_encryption_key = "000102030405060708090a0b0c0d0e0f"
    dlms_global_broadcast_encryption_key = None
    dlms_global_authentication_key = "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    dlms_master_key = None
