"""Workflows of the benchmark contract, one per module: the sandbox re-imports a workflow's
module for every run, so each run loads only its own workflow (as in the Python SDK guide's app)."""
