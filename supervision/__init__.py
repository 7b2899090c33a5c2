"""supervision: arrives with the actor-runtime issue."""
