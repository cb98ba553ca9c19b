"""CoinGecko: spot prices and price history of the assets the venues list markets on."""
