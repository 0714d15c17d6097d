"""The `atp` command line: one module per command group."""
