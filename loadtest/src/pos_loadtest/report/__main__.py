import sys

from pos_loadtest.report.write import main

sys.exit(main())
