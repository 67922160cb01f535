"""Properties: compliance requirements proved over every flow of the inventory with z3."""

DEFAULT_BUDGET = 120.0  # seconds that any-workload scope may take to find the pods that could be deployed (--budget)
SCOPES = ("inventory", "any-workload")  # over the endpoints given; also over every pod that could be deployed
