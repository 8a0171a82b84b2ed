"""Registry service: models, versions, aliases, datasets and artifacts."""
