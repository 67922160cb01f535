"""What several test modules share: the helpers (helpers.py), the brute-force reference of Kubernetes
NetworkPolicy (reference.py), the JSON contracts (contracts.py) and the hypothesis generators of random clusters
(k8s_clusters.py, mixed_clusters.py, host_scenarios.py). pyproject.toml puts tests/ on the path, so test modules
import it as `support.*`; they never import one another."""
