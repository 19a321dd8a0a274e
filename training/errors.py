"""The training package's exception family."""

from edge_service.errors import DatasetError as _EdgeDatasetError
from edge_service.errors import UnseenError


class TrainingError(UnseenError):
    """Any error of training, fitting or quantization."""


class DatasetError(TrainingError, _EdgeDatasetError):
    """A dataset that cannot be found or read; the message names the file."""
