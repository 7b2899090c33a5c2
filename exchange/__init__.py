"""Exchange side of Vigil: the adapter contract, the Binance Spot adapter and the simulator."""
