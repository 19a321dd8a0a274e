"""The receiving side of a fleet: collectors that store results, statuses and layer images.

Runs on a workstation or a server; devices never import it.
"""
