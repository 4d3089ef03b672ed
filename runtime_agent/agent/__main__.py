"""Entry point for ``python -m runtime_agent.agent``."""

import sys

from runtime_agent.agent.commands import main

sys.exit(main())
