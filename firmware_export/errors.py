"""The firmware export's exception family."""

from edge_service.errors import UnseenError


class ExportError(UnseenError):
    """The model cannot be exported as asked (unsupported op, over budget, bad bundle)."""
