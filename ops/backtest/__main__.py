"""`python -m ops.backtest`: the `arbees backtest` command on its own."""

from ops.backtest.cli import backtest_app

if __name__ == "__main__":
    backtest_app()
