"""Reception of meter-initiated data (DLMS DataNotifications pushed over UDP/TCP)."""
