"""The receiving side, run on a workstation or server: watch, collect (results into SQLite or
PostgreSQL), a local broker. Devices never import it."""
