"""Properties: compliance requirements proved over every flow of the inventory with z3."""
