"""FIX in three pieces: codec (bytes), session (sans-I/O state machine), pump (greenlets)."""
