"""The receiving side's exception family."""

from edge_service.errors import UnseenError


class FleetError(UnseenError):
    """A broker, database or subscription problem on the receiving side."""
