"""The JSON contracts of the `-o json` outputs, as JSON Schema (draft 2020-12); see README.md beside this file."""
