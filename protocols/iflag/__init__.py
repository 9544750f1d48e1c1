"""I-FLAG / Corus driver for Itron (Actaris) Corus gas volume correctors, on the ``iflag`` library."""
