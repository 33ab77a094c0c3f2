"""A Python SDK worker with child workflows for Sandglass parents (one of them fails
with a deep chain of causes), and a parent workflow that runs a Sandglass child.

Usage: child_worker.py ADDRESS TASK_QUEUE
Prints `ready` once polling; runs until killed.
"""

import asyncio
import sys

from temporalio import workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker


@workflow.defn(name="PythonChildWorkflow")
class PythonChildWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        parent = workflow.info().parent
        parent_id = parent.workflow_id if parent else "nobody"
        return f"Python child of {parent_id} greets {name}"


# Causes in the deep failure: about as many as the Python SDK itself can send (its
# core bridge decodes what it sends, up to prost's 100 levels of nesting).
DEEP_FAILURE_CAUSES = 90


@workflow.defn(name="PythonDeepFailureWorkflow")
class PythonDeepFailureWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        error = ApplicationError("root cause", type="RootCause", non_retryable=True)
        for level in range(DEEP_FAILURE_CAUSES):
            wrapper = ApplicationError(f"wrapped {level}", non_retryable=True)
            wrapper.__cause__ = error
            error = wrapper
        raise error


@workflow.defn(name="PythonParentWorkflow")
class PythonParentWorkflow:
    @workflow.run
    async def run(self, args: list) -> str:
        name, child_task_queue = args
        said = await workflow.execute_child_workflow(
            "ChildWorkflow",
            name,
            id=f"{workflow.info().workflow_id}-child",
            task_queue=child_task_queue,
            result_type=str,
        )
        return f"Python parent got: {said}"


async def main() -> None:
    address, task_queue = sys.argv[1:3]
    client = await Client.connect(address)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[PythonChildWorkflow, PythonDeepFailureWorkflow, PythonParentWorkflow],
    )
    print("ready", flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
