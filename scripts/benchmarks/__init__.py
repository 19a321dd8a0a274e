"""The benchmarks behind scripts/bench, one module per area."""
