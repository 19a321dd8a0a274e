"""The firmware export's exception family."""

from unseen.errors import UnseenError


class ExportError(UnseenError):
    """The model cannot be exported as asked (unsupported op, over budget, bad bundle)."""


class BundleError(ExportError):
    """A bundle that is malformed, tampered with, unsigned or unsafe; nothing was installed."""
