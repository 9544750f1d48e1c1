"""PowerBox API for EnergyGrid: the utility side of customer sync and HAN device binding.

EnergyGrid calls ``/v1/powerbox/customer`` and ``/v1/powerbox/bind`` with a customer's bearer
token from the utility's identity provider; the utility's CIS feeds the customers, premises and
meters through ``/api/v1/powerbox/customers/`` or ``manage.py import_cis``.

Decisions where the contract is silent (also in the README):

* Errors are bare status codes: 400 payload, 401 token, 403 account in
  ``POWERBOX_LOCKED_STATUSES`` (C, S), 404 unknown customer or meter (another customer's meter
  is unknown too), 405 other methods, 503 database down or PowerBox unconfigured.
* A CIS ``meterId`` is the ``name`` of a meter device of the same organization.
* Each CIS sync carries the customer's complete state; sites and meters it leaves out are
  detached (kept, with their bind history), and a premise or meter listed under another
  customer moves to it.
* The customer answer lists attached sites, primary first then by ``externalSiteId``, each
  with its meters by ``meterId``; ``billingCycleId`` is null when the CIS sent none.
* ``macAddress`` is an EUI-64 (Zigbee); ``installCode`` is 6/8/12/16 bytes plus its CRC-16,
  which is checked. Binding a non-AMI meter is a 400.
* Bind again to the device already bound, or while the same bind is under way: 200, no new
  request or job. Another device bound or being bound: 400. Unbind of a device that is not
  paired (nothing bound, or a failed bind of another device): 200, nothing to do.
"""
