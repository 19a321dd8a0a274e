"""The receiving side, run on a workstation or server: watch, collect, a local broker. Devices never import it."""
