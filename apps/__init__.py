"""Domain apps. Each ``apps/<domain>/`` owns its modality: data, adapter, head,
metrics, peers and CLI. Apps import :mod:`shared`, never each other."""


# Every model builder the apps register, by name, and the module that registers it. Loading a
# model folder imports only the module listed here for its builder (shared/model_folder.py):
# a new app adds its builder here.
BUILDER_MODULES: dict[str, str] = {
    "forecasting": "apps.forecasting.model",
    "molecules-graph": "apps.molecules.model",
    "molecules-smiles": "apps.molecules.smiles_model",
    "speech-asr": "apps.speech.model",
    "speech-tts": "apps.speech.model",
    "vision-dense": "apps.vision.model",
    "ocr-line": "apps.ocr.model",
    "summarizer": "apps.summarization.model",
}
