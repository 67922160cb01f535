"""The Datalog engine: a pyDatalog logic of its own per `Engine`, loaded with `rules/*.dl`."""
