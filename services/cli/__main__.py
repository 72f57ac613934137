"""`python -m services.cli`: the `leadflow` command."""

from services.cli import main

main()
