"""runtime: what every actor stands on — the messages they speak, the actor base class, the
control-aware inbox, the directory, the trading gate, the message trace, incidents and the
clocks. Nothing here imports an actor, the supervisor or the system assembly."""
