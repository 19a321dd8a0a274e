"""The token check and browser safety headers, as aiohttp middlewares.

A token is accepted from an `Authorization: Bearer` or `X-Unseen-Token` header, a cookie,
or `?token=` (for a Home Assistant camera URL; a page opened that way sets the cookie and
drops the token from the address). /healthz stays open for systemd and containers.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from aiohttp import web

OPEN_PATHS = {"/healthz"}
CSP = ("default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; style-src 'self'; "
       "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
UNAUTHORIZED = ("401 Unauthorized: this unseen server needs its token (header 'Authorization: Bearer TOKEN', "
                "or open the page once as /?token=TOKEN)\n")


def cookie_name(port: int) -> str:
    return f"unseen_token_{port}"  # cookies ignore the port: two servers on one host must not clash


def _given(request: web.Request, port: int) -> tuple[str, bool]:
    """(token, from the query string)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    if "X-Unseen-Token" in request.headers:
        return request.headers["X-Unseen-Token"], False
    if request.query.get("token"):
        return request.query["token"], True
    return request.cookies.get(cookie_name(port), ""), False


def token_middleware(token: str, port: int, secure: bool):
    @web.middleware
    async def check(request: web.Request, handler):
        if not token or request.path in OPEN_PATHS:
            return await handler(request)
        given, from_query = _given(request, port)
        if not hmac.compare_digest(given.encode(), token.encode()):
            return web.Response(status=401, text=UNAUTHORIZED, headers={"WWW-Authenticate": 'Bearer realm="unseen"'})
        if from_query and request.path == "/" and request.method == "GET":
            query = {k: v for k, v in request.query.items() if k != "token"}
            response = web.Response(status=302, headers={"Location": str(request.rel_url.with_query(query))})
            response.set_cookie(cookie_name(port), token, httponly=True, samesite="Strict", secure=secure, path="/")
            return response
        return await handler(request)
    return check


def same_origin(request: web.Request) -> bool:
    """False for a cross-site request (another page driving this one's WebSocket or commands)."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


@web.middleware
async def safety_headers(request: web.Request, handler):
    if request.method == "POST" and not same_origin(request):
        return web.Response(status=403, text="403 Forbidden: cross-origin request\n")
    response = await handler(request)
    if not response.prepared:  # streams and WebSockets have sent their headers already
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
    return response
