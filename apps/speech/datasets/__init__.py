"""Recipes for the speech data sets the apps ship or generate: English speech from real
synthesisers (:mod:`.english`, on :mod:`.corpus` sentences and :mod:`.synth` voices) and the
Dutch/Czech voice-over of Fish Fillets NG (:mod:`.fillets`). Each writes 16 kHz WAVs and
NeMo manifests into a prepared folder; the same inputs give the same bytes."""
