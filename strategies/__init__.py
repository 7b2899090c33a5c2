"""strategies: order sources that talk to Vigil the way any strategy would, through its
public API; they import nothing of Vigil's internals."""
