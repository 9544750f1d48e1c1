"""Partners in Energie (PiE) feed: AMQP 1.0 notifications, REST tickets and comments.

PiE (EDSN) announces "ticket created" and "comment created" on an AMQP 1.0 broker; the details
are fetched from its REST API. Both take an OAuth bearer token obtained with an RFC 7523 client
assertion signed by the service account's key (``pie/auth.py``). ``python manage.py pie_consumer``
(``pie/consumer.py``) keeps a local, queryable copy in :class:`~pie.models.Ticket` and
:class:`~pie.models.Comment`, served read-only at ``/api/v1/pie/tickets/`` and ``/comments/``.

Decisions
---------
* **Tenancy.** A PiE subscription belongs to one market party, so one deployment of the
  consumer serves one organization: ``PIE_ORGANIZATION`` (uuid). Tickets, comments and events
  carry ``organization`` (``tenant_path = "organization"``): JWT users see their organization's
  copy, staff see all. Uniqueness of PiE ids is per organization, so a second consumer for
  another organization (its own settings) could share the database.
* **Delivery guarantee.** At-least-once from the broker, made exactly-once in the database by
  the :class:`~pie.models.Event` row keyed by message id (the AMQP message-id, else an id-like
  property, else a content hash) and by upserts keyed by PiE's ids. A message is accepted only
  after what it announces is stored.
* **Failures.** REST failures release the message after an exponential backoff
  (``PIE_RETRY_BASE_SECONDS`` doubling up to ``PIE_RETRY_MAX_SECONDS``); after
  ``PIE_MAX_ATTEMPTS`` attempts, or at once when the message names no ticket or comment, it is
  rejected and the reason kept on the event. Rejected events that name a ticket are retried by the
  start-up reconciliation, so a long PiE outage does not lose them for good.
* **Message format and paths** are not public: ids are read tolerantly (``pie/messages.py``) and
  the REST paths are settings (``PIE_TICKET_PATH``, ``PIE_TICKET_COMMENTS_PATH``,
  ``PIE_COMMENT_PATH``; ``{ticket_id}``/``{comment_id}`` placeholders). The raw REST body is kept
  as ``payload`` beside the extracted fields.
* **Catching up.** Messages live one day. On start the command re-fetches recent tickets with all
  their comments (``PIE_RECONCILE_DAYS``), plus any ticket PiE lists at the optional
  ``PIE_TICKETS_LIST_PATH``; PiE's three documented endpoints cannot enumerate new tickets, so
  without such a listing a ticket created *and* unannounced during an outage longer than a day
  is only found through a later comment or a manual back-fill (admin action, ``pie.backfill_ticket``).
* **Broker authentication.** SASL ``PIE_AMQP_SASL_MECHANISMS`` (default PLAIN) with user
  ``PIE_AMQP_USERNAME`` (default: the client id) and, unless ``PIE_AMQP_PASSWORD`` is set (local
  brokers), the current access token as password; each reconnect takes a fresh token. TLS is
  required except to a loopback broker or with ``PIE_AMQP_ALLOW_PLAIN=1``.
* **Token library.** requests-oauthlib (already a dependency) posts the form; the assertion is
  built with PyJWT. authlib's ``PrivateKeyJWT`` was not worth a second OAuth stack.
"""
