"""The live page, /metrics, /healthz, an MJPEG stream and snapshots, served by aiohttp.

Devices use it through `serve --http`, the workstation through `watch --http`
(fleet.live); both feed the same page through a Hub (newest frame only, never a queue).
"""

from edge_service.errors import EdgeError


class HttpError(EdgeError):
    """An HTTP option that is wrong or unsafe, or a server that cannot start."""
