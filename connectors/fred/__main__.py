from connectors.fred.runner import main

raise SystemExit(main())
