import sys

from host_tools.sim.console import main

sys.exit(main())
