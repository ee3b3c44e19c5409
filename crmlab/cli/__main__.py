"""`python -m crmlab.cli`: the `crmlab` command."""
import sys

from . import main

sys.exit(main())
