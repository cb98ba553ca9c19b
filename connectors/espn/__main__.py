"""`python -m connectors.espn ...`: see connectors/espn/runner.py."""

from connectors.espn.runner import main

raise SystemExit(main())
