"""The strategy gateway: Binance's Spot API served by Vigil for strategies (issue 13)."""
