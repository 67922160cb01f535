"""Facts: the model as tuples, each relation declared once in `schema.RELATIONS`."""
