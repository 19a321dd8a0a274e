"""The edge service's exception family."""

from unseen.errors import UnseenError


class EdgeError(UnseenError):
    """Any error of the edge service."""


class ModelError(EdgeError):
    """A model file or manifest that is missing, corrupt, tampered with or unsupported."""


class FrameError(EdgeError):
    """An image or frame that cannot be read or is not acceptable."""


class ConversionError(EdgeError):
    """A conversion matrix that is malformed or does not fit the image."""


class DatasetError(EdgeError):
    """A dataset that cannot be found or read; the message names the file."""
