"""The receiving side (a workstation or server): devices never import this package."""
