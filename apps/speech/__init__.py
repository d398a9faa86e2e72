"""Speech: audio I/O, text normalisation, manifests and real speech data sets (work in progress: data layer only)."""
