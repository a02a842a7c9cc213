import sys

from infra.radicale_server import main

sys.exit(main())
