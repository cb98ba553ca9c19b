"""`python -m connectors.polymarket live|simulate ...`: see connectors/polymarket/runner.py."""

from connectors.polymarket.runner import main

raise SystemExit(main())
