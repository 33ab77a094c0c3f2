"""The contract's one activity, kept in its own module as in the Python SDK guide's app.

Workflow modules import it through the sandbox's pass-through, so that the sandbox does not
re-import it for every workflow run.
"""

from temporalio import activity


@activity.defn
def greet(name: str) -> str:
    """Activity type ``greet``; sync, so the worker runs it on its thread pool."""
    return f"Hello, {name}!"
