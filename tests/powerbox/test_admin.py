"""The admin pages render: customers with sites and meters inline, meters with bind history."""

from __future__ import annotations

from django.urls import reverse

from powerbox.models import BindRequest, CustomerMeter, CustomerSite

from .conftest import INSTALL_CODE, MAC_NORMALIZED


def test_customer_page_shows_sites_and_their_meters(admin_client, john) -> None:
    response = admin_client.get(reverse("admin:powerbox_customer_change", args=[john.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "5113305555" in html and "5113305556" in html
    assert "E-1001" in html and "G-2001" in html and "E-1002" in html


def test_changelists_and_search(admin_client, john) -> None:
    for model in ("customer", "customersite", "customermeter", "bindrequest"):
        response = admin_client.get(reverse(f"admin:powerbox_{model}_changelist"), {"q": "E-1001"})
        assert response.status_code == 200, model


def test_meter_page_shows_bind_state_and_history_without_the_install_code(
    admin_client, john, pairing
) -> None:
    from powerbox.services import bind_request_submit

    bind_request_submit(
        customer=john,
        meter_id="E-1001",
        hem_profile_id="hem",
        mac_address=MAC_NORMALIZED,
        install_code=INSTALL_CODE,
        action=1,
    )
    meter = CustomerMeter.objects.get(meter_id="E-1001")
    html = admin_client.get(reverse("admin:powerbox_customermeter_change", args=[meter.pk])).content.decode()
    assert "Bind requested" in html and MAC_NORMALIZED in html
    assert INSTALL_CODE not in html
    request = BindRequest.objects.get()
    html = admin_client.get(reverse("admin:powerbox_bindrequest_change", args=[request.pk])).content.decode()
    assert MAC_NORMALIZED in html and INSTALL_CODE not in html
    site = CustomerSite.objects.get(external_site_id="5113305555")
    assert admin_client.get(reverse("admin:powerbox_customersite_change", args=[site.pk])).status_code == 200
