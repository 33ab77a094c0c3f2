"""Starts a workflow by name with the official Python SDK client and prints its result.

Usage: start_workflow.py ADDRESS TASK_QUEUE WORKFLOW_TYPE JSON_ARG

An ADDRESS of `env` connects as the Python SDK reads `temporal.toml` and the TEMPORAL_*
variables (its envconfig), TLS, mTLS and API key included.
"""

import asyncio
import json
import os
import sys
import uuid

from temporalio.client import Client
from temporalio.envconfig import ClientConfig


async def main() -> None:
    address, task_queue, workflow_type, arg = sys.argv[1:5]
    if address == "env":
        client = await Client.connect(**ClientConfig.load_client_connect_config())
    else:
        client = await Client.connect(address)
    result = await client.execute_workflow(
        workflow_type, json.loads(arg), id=f"py-{uuid.uuid4()}", task_queue=task_queue
    )
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # The SDK's native runtime can crash while the interpreter tears down (SIGSEGV at
    # exit, seen under load); the work is done, so leave without the teardown.
    os._exit(0)
