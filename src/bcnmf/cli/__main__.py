"""``python -m bcnmf.cli``: the ``bcnmf`` command without its installed script."""

import sys

from bcnmf.cli.main import main

sys.exit(main())
