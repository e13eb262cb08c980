"""``python -m trustcopy`` runs the CLI."""

from trustcopy.cli.main import entrypoint

entrypoint()
