"""The consumer insists on TLS except towards a loopback broker, and on a configured organization."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from pie.consumer import PieConsumer
from tests.support.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return OrganizationFactory()


@pytest.mark.parametrize(
    ("url", "allow_plain", "ok"),
    [
        ("amqps://broker.example.test:5671", False, True),
        ("amqp://127.0.0.1:5672", False, True),
        ("amqp://broker.example.test:5672", False, False),
        ("amqp://broker.example.test:5672", True, True),
        ("http://broker.example.test", True, False),
    ],
)
def test_plain_amqp_only_to_loopback_or_when_allowed(pie_settings_for, org, url, allow_plain, ok) -> None:
    conf = pie_settings_for(
        org, PIE_AMQP_URL=url, PIE_AMQP_ADDRESS="/queue/x", PIE_AMQP_ALLOW_PLAIN=allow_plain
    )
    if ok:
        PieConsumer(conf=conf)
    else:
        with pytest.raises(ValueError):
            PieConsumer(conf=conf)


def test_consumer_needs_an_organization(pie_settings_for) -> None:
    conf = pie_settings_for(None, PIE_AMQP_URL="amqps://b.example.test", PIE_AMQP_ADDRESS="/queue/x")
    with pytest.raises(ImproperlyConfigured):
        PieConsumer(conf=conf)


def test_amqp_username_defaults_to_the_client_id(pie_settings_for, org, service_account) -> None:
    assert pie_settings_for(org, PIE_AMQP_USERNAME="").amqp_username == service_account.client_id
