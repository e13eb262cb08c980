"""``python -m trustcopy`` runs the CLI."""

import sys

from trustcopy.cli.main import main

sys.exit(main())
