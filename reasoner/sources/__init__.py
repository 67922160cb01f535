"""One parser per manifest kind, all found through `SOURCES` (see `reasoner.sources.registry`)."""
