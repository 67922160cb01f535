"""Reading manifests: files, directories, standard input; YAML, JSON, `kind: List`."""
