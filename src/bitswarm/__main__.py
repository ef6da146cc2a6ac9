"""``python -m bitswarm`` runs the command line."""

from bitswarm.cli.main import main

main()
