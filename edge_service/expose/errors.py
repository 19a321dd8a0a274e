"""The one exception `unseen expose` raises for a user's mistake."""

from edge_service.errors import ModelError


class ExposeError(ModelError):
    """A model, labels file, option or output folder that `expose` cannot use."""
