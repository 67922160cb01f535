"""Renderers: one result model, one writer per output format."""
