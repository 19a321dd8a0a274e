"""The one schema, valid as written in both SQLite and PostgreSQL (JSON is kept as text in both)."""

VERSION = "1"

TABLES = [
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS devices (
        device TEXT PRIMARY KEY,
        first_seen DOUBLE PRECISION NOT NULL,
        last_seen DOUBLE PRECISION NOT NULL,
        results BIGINT NOT NULL DEFAULT 0,
        duplicates BIGINT NOT NULL DEFAULT 0,
        malformed BIGINT NOT NULL DEFAULT 0,
        images BIGINT NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'unknown',
        state_reason TEXT NOT NULL DEFAULT '',
        status TEXT,
        status_time DOUBLE PRECISION,
        status_seen DOUBLE PRECISION,
        status_interval DOUBLE PRECISION)""",
    """CREATE TABLE IF NOT EXISTS results (
        id TEXT PRIMARY KEY,
        device TEXT NOT NULL,
        seq BIGINT NOT NULL,
        time DOUBLE PRECISION NOT NULL,
        stored_at DOUBLE PRECISION NOT NULL,
        source TEXT NOT NULL,
        model_sha256 TEXT NOT NULL,
        backend TEXT NOT NULL,
        top TEXT NOT NULL,
        top_label TEXT NOT NULL,
        top_score DOUBLE PRECISION,
        latency_ms TEXT NOT NULL,
        total_ms DOUBLE PRECISION,
        layers TEXT NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS results_device_time ON results (device, time, seq)""",
    """CREATE TABLE IF NOT EXISTS statuses (
        device TEXT NOT NULL,
        time DOUBLE PRECISION NOT NULL,
        received DOUBLE PRECISION NOT NULL,
        state TEXT NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (device, time))""",
    """CREATE TABLE IF NOT EXISTS layer_images (
        id TEXT PRIMARY KEY,
        device TEXT NOT NULL,
        layer TEXT NOT NULL,
        result_id TEXT NOT NULL,
        path TEXT NOT NULL,
        bytes BIGINT NOT NULL,
        stored_at DOUBLE PRECISION NOT NULL)""",
]

RESULT_COLUMNS = ("id", "device", "seq", "time", "stored_at", "source", "model_sha256", "backend", "top",
                  "top_label", "top_score", "latency_ms", "total_ms", "layers")
