"""PowerBox API for EnergyGrid: customer profile sync and HAN device binding."""
