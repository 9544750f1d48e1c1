"""Organizations' meter inventory (devices, types, configs, SIMs, network interfaces, keys) and readings."""
