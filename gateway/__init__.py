"""Third-Party Gateway: DI application install requests between customer portals and the EAC.

Flow: ``api/`` (bearer JWT of the identity service, tenant claim = URL tenant) →
``services.py`` writes the request, per-ESN rows and outgoing messages in one transaction
(outbox) → ``relay.py`` publishes them through a transport (``transports/``: database, amqp,
azure-servicebus) → the EAC (or ``eac_simulator``) reports progress on the status queue →
``consumer.py`` records it once per message id and queues the tenant's notifications → relay.
Daemons: ``manage.py gateway_relay`` (exactly one), ``gateway_consumer``, ``eac_simulator``.
"""
