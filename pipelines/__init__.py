"""Prefect flows wiring each app's steps: ingest, validate, train, evaluate,
register, batch-infer. Pipelines hold no ML logic; they call app functions."""
