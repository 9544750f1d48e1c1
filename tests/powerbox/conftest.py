from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from rest_framework.test import APIClient

from meters.models import NetworkInterface, Protocol
from powerbox import services
from tests.meters.factories import MeterDeviceFactory
from tests.support.factories import OrganizationFactory

from .support import ENVIRONMENT, AckHanEnvironment
from .tokens import AUDIENCE, ISSUER, IdentityProvider, rsa_key

#: Valid HAN identifiers: an EUI-64 and the Zigbee specification's example install code.
MAC = "00:0D:6F:00:0A:90:12:34"
MAC_NORMALIZED = "000D6F000A901234"
OTHER_MAC = "000D6F000A905678"
INSTALL_CODE = "83FED3407A939723A5C639B26916D505C3B5"


@pytest.fixture
def idp(tmp_path, settings, monkeypatch):
    from tests.support import jwks
    from utilitarian.bearer import clear_jwks_cache

    # TestIssuer makes a fresh RSA key per instance; the session's cached keys are as good here
    monkeypatch.setattr(jwks, "new_key", lambda: ("k0", rsa_key("k0")))
    provider = IdentityProvider(tmp_path)
    provider.publish(k1=rsa_key("k1"))
    settings.POWERBOX_JWKS_URL = provider.jwks_url
    settings.POWERBOX_ISSUER = ISSUER
    settings.POWERBOX_AUDIENCE = AUDIENCE
    settings.POWERBOX_CUSTOMER_CLAIM = "sub"
    settings.POWERBOX_ORGANIZATION = ""
    settings.POWERBOX_LOCKED_STATUSES = "C,S"
    clear_jwks_cache()
    yield provider
    clear_jwks_cache()


@pytest.fixture
def utility(db):
    return OrganizationFactory(name="Great Lakes Power")


def meter_device(organization, name: str, *, port: int = 4059):
    interface = NetworkInterface.objects.create(
        organization=organization, static_ip_address="127.0.0.1", port=port, can_block=True
    )
    return MeterDeviceFactory(
        organization=organization, name=name, protocol=Protocol.DLMS, network_interface=interface
    )


def meter(meter_id: str, meter_type: str = "Electric", **extra) -> dict:
    values = {
        "meter_id": meter_id,
        "meter_type": meter_type,
        "unit_of_measure": "kWh" if meter_type == "Electric" else "CCF",
        "is_ami": True,
        "rate_code": "RES1",
        "billing_cycle_id": 7,
    }
    values.update(extra)
    return values


def site(external_site_id: str, meters: list[dict], *, primary: bool = False, **extra) -> dict:
    values = {
        "external_site_id": external_site_id,
        "is_primary": primary,
        "address1": f"{external_site_id[-3:]} Main St.",
        "city": "Detroit",
        "state": "MI",
        "postal_code": "48067",
        "meters": meters,
    }
    values.update(extra)
    return values


def sync(organization, client_id: str, sites: list[dict], *, status: str = "A", first="John", last="Doe"):
    """Create the meter devices the sites name, then sync the customer as the CIS would."""
    from meters.models import MeterDevice

    for s in sites:
        for m in s["meters"]:
            if not MeterDevice.objects.filter(organization=organization, name=m["meter_id"]).exists():
                meter_device(organization, m["meter_id"])
    return services.customer_sync(
        organization=organization,
        client_id=client_id,
        first_name=first,
        last_name=last,
        acct_status=status,
        sites=sites,
    ).customer


@pytest.fixture
def john(utility):
    """A customer with two premises: a primary one with an electric and a gas meter, a second
    one with an electric meter."""
    return sync(
        utility,
        "123456789",
        [
            site("5113305555", [meter("E-1001"), meter("G-2001", "Gas", is_ami=False)], primary=True),
            site("5113305556", [meter("E-1002")]),
        ],
    )


@pytest.fixture
def jane(utility):
    return sync(utility, "987654321", [site("5113309999", [meter("E-9001")], primary=True)], first="Jane")


@pytest.fixture
def bearer(idp):
    """``bearer(client_id)`` → an APIClient that sends that customer's token."""

    def make(client_id: str = "123456789", **token_kwargs) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {idp.token(client_id, **token_kwargs)}")
        return client

    return make


@dataclass
class Pairing:
    """AMR pairing with the acknowledging stand-in environment; jobs are sent nowhere and run
    when the test says so (``run()``), each followed by the AMR hook."""

    sent: list[str] = field(default_factory=list)

    def run(self) -> list[str]:
        from amr.models import AmrJob
        from amr.services import job_run
        from powerbox.services import amr_job_changed

        states = []
        while self.sent:
            job_id = self.sent.pop(0)
            amr_job_changed(job_id=job_id)  # queued: nothing changes
            job_run(job_id=job_id, worker="test")
            amr_job_changed(job_id=job_id)
            states.append(AmrJob.objects.get(pk=job_id).state)
        return states

    @property
    def environment(self) -> type[AckHanEnvironment]:
        return AckHanEnvironment


@pytest.fixture
def pairing(monkeypatch, settings):
    import amr.environments as registry
    from amr.tasks import run_on_demand_job

    monkeypatch.setitem(registry.ENVIRONMENTS, ENVIRONMENT, "tests.powerbox.support.AckHanEnvironment")
    monkeypatch.setitem(registry._loaded, ENVIRONMENT, AckHanEnvironment)
    settings.POWERBOX_EXECUTION_TYPE = ENVIRONMENT
    settings.AMR_BLOCK_WAIT_SECONDS = 0
    AckHanEnvironment.reset()
    state = Pairing()

    def record(args=None, kwargs=None, **options):
        state.sent.append(str((args or [None])[0]))

    monkeypatch.setattr(run_on_demand_job, "apply_async", record)
    yield state
    AckHanEnvironment.reset()
