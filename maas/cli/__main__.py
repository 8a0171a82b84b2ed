"""`python -m maas.cli`, the same as the `maas` console script."""

import sys

from maas.cli import main

sys.exit(main())
