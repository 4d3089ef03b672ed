"""Entry point for ``python -m runtime_agent``."""

import sys

from runtime_agent.cli import main

sys.exit(main())
