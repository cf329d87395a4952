"""``python -m flawn.cli``: the same as the ``flawn`` command."""

import sys

from flawn.cli import main

sys.exit(main())
