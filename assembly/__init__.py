"""assembly: the composition root — builds the store, gate, adapter, supervised actors and
timers of one Vigil process, recovers its state, and reports its status."""
