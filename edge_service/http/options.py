"""What `--http [HOST:]PORT`, `--http-token[-file]` and `--http-cert/--http-key` mean, checked at start."""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from edge_service.http import HttpError

DEFAULT_HOST = "127.0.0.1"
MIN_TOKEN = 12  # shorter tokens are guessable; say how to make a good one


@dataclass(frozen=True)
class HttpOptions:
    host: str
    port: int
    token: str = ""
    cert: str = ""
    key: str = ""

    @property
    def scheme(self) -> str:
        return "https" if self.cert else "http"

    def url(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host or '0.0.0.0'}:{port or self.port}/"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context, or None; a bad certificate or key is one clear line."""
        if not self.cert:
            return None
        for flag, path in (("--http-cert", self.cert), ("--http-key", self.key)):
            if path and not os.path.isfile(path):  # ssl names no file when one is missing
                raise HttpError(f"{flag}: no such file {path}")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(self.cert, self.key or None)
        except (ssl.SSLError, OSError) as exc:
            raise HttpError(f"--http-cert/--http-key: cannot load the certificate and key ({exc})") from None
        return context


def parse_listen(text: str) -> tuple[str, int]:
    """'8080', ':8080', 'HOST:8080' or '[::1]:8080' -> (host, port); the host defaults to loopback."""
    value = text.strip()
    host, _, port = value.rpartition(":") if ":" in value else ("", "", value)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:  # a bare IPv6 address needs brackets, or its last group reads as the port
        raise HttpError(f"--http: write an IPv6 address in brackets, e.g. [::1]:8080 (got {text!r})")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise HttpError(f"--http: {text!r} is not [HOST:]PORT with a port from 0 to 65535")
    if host:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not all(part.replace("-", "").isalnum() for part in host.split(".")):
                raise HttpError(f"--http: {host!r} is not a host name or address") from None
    return host or DEFAULT_HOST, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def read_token(token: str, token_file: str) -> str:
    if token and token_file:
        raise HttpError("give --http-token or --http-token-file, not both")
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise HttpError(f"--http-token-file: cannot read {token_file} ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise HttpError(f"--http-token-file: {token_file} is not text") from None
    if token and (len(token) < MIN_TOKEN or any(c.isspace() for c in token)):
        raise HttpError(f"the HTTP token needs at least {MIN_TOKEN} characters and no spaces; make one with "
                        "python3 -c 'import secrets; print(secrets.token_urlsafe())'")
    return token


def http_options(listen: str, token: str = "", token_file: str = "", cert: str = "", key: str = "") -> HttpOptions:
    """Checked options: any address but loopback needs a token; a key needs a certificate."""
    host, port = parse_listen(listen)
    token = read_token(token, token_file)
    if not is_loopback(host) and not token:
        raise HttpError(f"--http {listen}: listening beyond loopback needs --http-token or --http-token-file")
    if key and not cert:
        raise HttpError("--http-key needs --http-cert")
    options = HttpOptions(host, port, token, cert, key)
    options.ssl_context()  # fail now, not at the first request
    return options
