"""PostgreSQL through psycopg 3: the same schema and statements, `%s` placeholders."""

from __future__ import annotations

import contextlib
import re

from fleet.errors import StoreError, StoreUnavailable
from fleet.store import Store


class PostgresStore(Store):
    greatest = "GREATEST"

    def __init__(self, url: str, images_dir) -> None:
        super().__init__(images_dir)
        self.dsn = url
        self.url = re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)  # never print a password

    def connect(self) -> None:
        try:
            import psycopg
        except ImportError:
            raise StoreError("PostgreSQL needs psycopg: pip install 'unseen[fleet]'") from None
        try:
            self.conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"{self.url}: {_first_line(exc)}") from None
        except psycopg.Error as exc:
            raise StoreError(f"{self.url}: {_first_line(exc)}") from None

    def lock_schema(self, cur) -> None:
        # Two CREATE TABLE IF NOT EXISTS at once can both try to create the type: one fails.
        cur.execute("SELECT pg_advisory_xact_lock(741520015)")

    def q(self, sql: str) -> str:
        return sql.replace("?", "%s")

    @contextlib.contextmanager
    def transaction(self):
        import psycopg
        if self.conn is None or self.conn.closed:
            raise StoreUnavailable(f"{self.url}: not connected")
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                yield cur
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            # Down, restarting, shut down by an administrator, out of disk (class 53), or a
            # deadlock or serialization failure between collectors (class 40): all worth a retry.
            raise StoreUnavailable(f"{self.url}: {_first_line(exc)}") from None
        except psycopg.Error as exc:
            raise StoreError(f"{self.url}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
