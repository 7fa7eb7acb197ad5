"""``python -m ecglib`` is the ``ecglib`` command."""

import sys

from ecglib.cli import main

sys.exit(main())
