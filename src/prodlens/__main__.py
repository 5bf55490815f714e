"""`python -m prodlens`: the `prodlens` command."""

from prodlens.cli.main import main

if __name__ == "__main__":
    main()
