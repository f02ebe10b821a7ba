import sys

from revive_core.cli import main

sys.exit(main())
