"""MINIMUM int8: the smaller raw value of the (broadcast) inputs."""

import numpy as np

from edge_service.kernels.maximum import Extremum
from edge_service.kernels.registry import register


@register("MINIMUM")
class Minimum(Extremum):
    pick = staticmethod(np.minimum)
