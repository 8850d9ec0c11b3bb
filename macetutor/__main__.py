import sys

from macetutor.cli import main

sys.exit(main())
