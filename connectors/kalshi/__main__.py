"""`python -m connectors.kalshi live|simulate ...`: see connectors/kalshi/runner.py."""

from connectors.kalshi.runner import main

raise SystemExit(main())
