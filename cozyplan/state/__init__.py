"""State: the versioned file format, the crash-safe local store, and locking."""
