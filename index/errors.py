"""The few typed errors of the index layer; the CLI and UI turn them into one-line messages."""


class SearchIndexError(Exception):
    """Base class: something is wrong with the documents or the index on disk."""


class IndexMissing(SearchIndexError):
    """No index has been built in the data folder yet."""


class EmbedderMismatch(SearchIndexError):
    """The index on disk was built with another embedder than the one asked for."""


class EmbedderError(SearchIndexError):
    """The embedder cannot be loaded or made (e.g. an export that fails its check)."""


class CorruptIndex(SearchIndexError):
    """The files of the index disagree with each other or cannot be read."""


class UnreadableDocument(SearchIndexError):
    """One file cannot be read as text; the reason is the message. Batches skip such files."""


class DataDirUnusable(SearchIndexError):
    """The data folder is a file, lies below one, or cannot be written (checked before any work)."""


class SourceMissing(SearchIndexError):
    """A file or folder given to `Index.sync` does not exist or cannot be reached (a symlink loop,
    an unmounted drive): nothing is changed unless told to prune its documents."""
