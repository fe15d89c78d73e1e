"""Answering: `from qa import Assistant; Assistant().ask("question")` → `Answer`."""
from .answer import Answer, Citation, Timings
from .assistant import Assistant, open_index
from .errors import ModelError, QAError, SettingsError
from .settings import Settings

__all__ = ["Answer", "Assistant", "Citation", "ModelError", "QAError", "Settings", "SettingsError",
           "Timings", "open_index"]
