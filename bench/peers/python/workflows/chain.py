"""ChainWorkflow(n: int) -> int: ``greet(f"link {i}")`` for i in 0..n, one after another.

Its history (6 events per link) is what the replay benchmark replays.
"""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.greet import greet


@workflow.defn(name="ChainWorkflow")
class ChainWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        for i in range(n):
            await workflow.execute_activity(
                greet, f"link {i}", start_to_close_timeout=timedelta(seconds=10)
            )
        return n
