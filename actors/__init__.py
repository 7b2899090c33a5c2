"""actors: arrives with the actor-runtime issue."""
