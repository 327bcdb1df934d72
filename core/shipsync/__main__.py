"""``python -m shipsync``: the same as the ``shipsync`` command."""

from .cli import main

main()
