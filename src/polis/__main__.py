"""`python -m polis` is the `polis` command."""

from polis.cli import main

main()
