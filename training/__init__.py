"""Workstation side: datasets, conversion-matrix fitting, the CNN and its int8 artefact."""
