"""The typed model: small frozen types, one per case in the spec. Imports neither pyDatalog nor z3."""
