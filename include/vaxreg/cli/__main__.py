"""``python -m vaxreg.cli``: the same as the ``vaxreg`` command."""

import sys

from vaxreg.cli import main

sys.exit(main())
