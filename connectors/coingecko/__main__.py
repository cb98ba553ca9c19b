from connectors.coingecko.runner import main

raise SystemExit(main())
