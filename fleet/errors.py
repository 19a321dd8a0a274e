"""The fleet's exception family (under the project's UnseenError, like edge_service's)."""

from edge_service.errors import UnseenError  # the project's root error, whichever package defines it


class FleetError(UnseenError):
    """Any error of the receiving side that a user can act on."""


class StoreError(FleetError):
    """The database cannot be used at all (a wrong URL, a corrupt file, a missing driver)."""


class StoreUnavailable(StoreError):
    """The database is down, locked or full for now: hold the messages and retry."""


class SourceError(FleetError):
    """The broker or stream cannot be subscribed to as asked (refused, unsupported, misconfigured)."""
