"""Speech: recognition (the ``speech-asr`` App) and synthesis (``speech-tts``) on the shared core, from
NeMo manifests of generated English, real Dutch/Czech voice-over, or your own recordings (see ``app.py``)."""
