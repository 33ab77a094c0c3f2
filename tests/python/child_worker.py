"""A Python SDK worker with a child workflow for Sandglass parents, and a parent
workflow that runs a Sandglass child.

Usage: child_worker.py ADDRESS TASK_QUEUE
Prints `ready` once polling; runs until killed.
"""

import asyncio
import sys

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker


@workflow.defn(name="PythonChildWorkflow")
class PythonChildWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        parent = workflow.info().parent
        parent_id = parent.workflow_id if parent else "nobody"
        return f"Python child of {parent_id} greets {name}"


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
        workflows=[PythonChildWorkflow, PythonParentWorkflow],
    )
    print("ready", flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
