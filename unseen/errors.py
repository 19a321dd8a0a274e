"""The root of every error a user can cause; the CLI turns these into one line."""


class UnseenError(Exception):
    """A problem the user can fix: bad input, a missing file, a wrong option."""
