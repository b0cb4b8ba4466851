"""The PowerJob OpenAPI stand-in that tools/powerjob-standin runs."""
