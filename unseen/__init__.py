"""unseen: show what a CNN sees inside, from training to the edge."""

__version__ = "0.1.0"
