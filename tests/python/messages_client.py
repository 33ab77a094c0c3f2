"""The Python SDK client driving a Sandglass `MessagesWorkflow`: signal, query, update
(accepted and rejected by its validator), then finish and read the result.

Usage: messages_client.py ADDRESS TASK_QUEUE WORKFLOW_ID
Prints one JSON object with what each call returned.
"""

import asyncio
import json
import os
import sys

from temporalio.client import Client, WorkflowUpdateFailedError


async def main() -> None:
    address, task_queue, workflow_id = sys.argv[1:4]
    client = await Client.connect(address)
    handle = await client.start_workflow(
        "MessagesWorkflow", id=workflow_id, task_queue=task_queue
    )
    await handle.signal("add", 3)
    total_after_signal = await handle.query("total")
    updated = await handle.execute_update("add_checked", 4)
    try:
        await handle.execute_update("add_checked", -1)
        rejected = None
    except WorkflowUpdateFailedError as err:
        rejected = str(err.cause)
    try:
        await handle.query("no_such_query")
        unknown_query = None
    except Exception as err:  # the SDK raises WorkflowQueryFailedError
        unknown_query = str(err)
    await handle.signal("finish")
    result = await handle.result()
    print(
        json.dumps(
            {
                "total_after_signal": total_after_signal,
                "updated": updated,
                "rejected": rejected,
                "unknown_query": unknown_query,
                "result": result,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # The SDK's native runtime can crash while the interpreter tears down (SIGSEGV at
    # exit, seen under load); the work is done, so leave without the teardown.
    os._exit(0)
