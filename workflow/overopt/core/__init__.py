"""Configuration, registries, run identity, I/O and job set-up: what every stage builds on."""
