"""Reception of meter-initiated data: DLMS DataNotifications pushed over UDP and TCP.

``python manage.py dlms_receiver --udp 4059 --tcp 4059`` runs, in one process:

1. **Receiver** (``receiver.py``, asyncio). UDP: one datagram = one frame. TCP: IEC 62056-47
   wrapper frames, any number per connection (a connection not starting with wrapper version
   ``00 01`` is one raw frame). Frames may be wrapper, bare APDU, HDLC (with LLC) or wired M-Bus
   segments; general-glo/general-ded ciphered or plain. Nothing is parsed here.
2. **Spool** (``spool.py``). Each frame is appended to a segment file under ``PUSH_SPOOL_DIR``
   (default ``DATA_DIR / "push-spool"``) and fsync'd by a writer thread (group commit: one
   ``fsync`` per burst) before anyone else sees it. This is what makes a database outage cost
   latency and never frames. Decision: durability is "after the fsync"; a UDP datagram that the
   process received but had not yet fsync'd when the host lost power is lost, exactly like one
   still in the kernel's socket buffer (a DataNotification is unconfirmed either way).
3. **Processor** (``processor.py``, a thread of the same process, because the spool is local).
   Imports spooled records as ``RawPushFrame`` rows (``pending``; unique ``spool_key`` makes the
   import idempotent), deletes spool segments once they are fully stored, and settles pending
   frames in batches (``services.py``): system title → meter, GUEK/GBEK → decrypt and verify,
   decode, invocation counter strictly increasing (``DlmsInvocationCounter``, ``push:guek`` /
   ``push:gbek``, under ``SELECT ... FOR UPDATE``), values → readings through the meters ingestion
   service (``services.ingest_readings`` is the one adapter). A database error rolls the batch
   back and the loop retries with backoff; pending frames are retried (one by one after a failed
   batch, given up after ``services.MAX_ATTEMPTS``), which also covers frames left pending by
   a crash. ``--no-processor`` / ``--processor-only`` split the two halves on one host, and the
   Celery task ``push.process_pending`` (queue ``utilitarian.tasks.commits.meter_readings``)
   settles pending frames from any worker.

Rejections (unknown or ambiguous system title, replayed counter, tag mismatch, missing key,
undecodable, plain frame for a meter that has a GUEK) set ``state = rejected`` with ``reason``
and are logged at WARNING with the reason; the raw bytes stay for the admin (hex, no keys).
Values that could not be stored (unknown series with ``auto_create_series`` off, series outside
the meter's config) are listed in the frame's ``report["not_recorded"]``; the frame is
``processed`` and its ``reason`` says how many. See ``services.py`` for the timestamp and
plain-notification rules.

Ordering: a counter is accepted only if it is greater than the last accepted one, so a UDP push
overtaken by a later one in the network is rejected as a replay (the strict rule of the Green
Book; a window would let an attacker replay within it).
"""
