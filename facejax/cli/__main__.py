"""``python -m facejax.cli`` runs the ``facejax`` command."""

import sys

from facejax.cli import main

sys.exit(main())
