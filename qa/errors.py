"""The typed errors of the answering layer; the CLI and UI turn them into one-line messages."""


class QAError(Exception):
    """Base class for errors a user can act on."""


class SettingsError(QAError):
    """A setting (flag or QA_* variable) has a value that cannot work."""


class ModelError(QAError):
    """A model file is missing, incomplete, corrupt or cannot be loaded."""


class ModelServerError(QAError):
    """The model server (QA_LLM_URL) is down, too slow, refuses the request or answers garbage."""
