"""The operator's interface: the loopback control API and the commands that call it."""
