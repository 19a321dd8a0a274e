"""The root of every error a user can cause (defined on the device side, which every package imports)."""

from edge_service.errors import UnseenError

__all__ = ["UnseenError"]
