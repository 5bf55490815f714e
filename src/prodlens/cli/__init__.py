"""The `prodlens` command line: `main` builds it, one module per command group."""
