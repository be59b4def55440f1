"""`python -m dian` is the `dian` command."""

import sys

from .cli import main

sys.exit(main())
