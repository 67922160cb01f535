"""reasoner: a Datalog-based reasoning engine for Kubernetes and Calico network policy."""

__version__ = "0.1.0"
