"""The network semantics, as the Datalog rule files beside this file.

A package only so that the rule files ship inside `reasoner` (as `reasoner.rules`) and are read with
importlib.resources, from a source checkout and from an installed wheel alike.
"""
