"""The edge service's exception family, and the root every package's family derives from."""


class UnseenError(Exception):
    """A problem the user can fix: bad input, a missing file, a wrong option (the CLI: exit 2)."""


class EdgeError(UnseenError):
    """Any error of the edge service."""


class ModelError(EdgeError):
    """A model file or manifest that is missing, corrupt, tampered with or unsupported."""


class FrameError(EdgeError):
    """An image or frame that cannot be read or is not acceptable."""


class ConversionError(EdgeError):
    """A conversion matrix that is malformed or does not fit the image."""


class BundleError(EdgeError):
    """A bundle that is malformed, tampered with, unsigned or unsafe; nothing was installed."""


class DatasetError(EdgeError):
    """A dataset that cannot be found or read; the message names the file."""
