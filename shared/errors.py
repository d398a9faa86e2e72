"""Error types a user sees.

Every error a person can cause (bad input, bad config, a missing model) is a
:class:`SextantError`. CLIs print ``str(error)`` as one line and exit non-zero
instead of showing a traceback.
"""


class SextantError(Exception):
    """Base class for errors caused by input, configuration or environment."""


class ConfigError(SextantError):
    """A configuration file or override is invalid."""


class DataError(SextantError):
    """Input data is malformed, missing or inconsistent."""


class ModelFolderError(SextantError):
    """A model folder is missing files or was written by an incompatible version."""


class CheckpointError(SextantError):
    """A training checkpoint is missing, incomplete or does not match the run."""


class RegistryError(SextantError):
    """The model registry has no such model/version, or its state is inconsistent."""


class TokenizerError(SextantError):
    """A tokenizer file is invalid or a tokenizer was used before training."""
