"""ParkedWorkflow(seconds: int) -> str: sleeps on a workflow timer, returns "woke".

Used to measure what an idle cached run costs a worker.
"""

import asyncio

from temporalio import workflow


@workflow.defn(name="ParkedWorkflow")
class ParkedWorkflow:
    @workflow.run
    async def run(self, seconds: int) -> str:
        # In a workflow, asyncio.sleep is a durable timer.
        await asyncio.sleep(seconds)
        return "woke"
