"""The `unseen` subcommands, one module per area; each imports its heavy parts lazily."""
