"""supervision: the supervisor — child specs, restart strategy and intensity, liveness checks
and escalation to RED."""
