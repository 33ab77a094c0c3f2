"""Starts a workflow by name with the official Python SDK client, connected the way the
Python SDK reads `temporal.toml` and the TEMPORAL_* variables (envconfig), and prints its
result.

Usage: start_workflow_from_env.py TASK_QUEUE WORKFLOW_TYPE JSON_ARG
"""

import asyncio
import json
import os
import sys
import uuid

from temporalio.client import Client
from temporalio.envconfig import ClientConfig


async def main() -> None:
    task_queue, workflow_type, arg = sys.argv[1:4]
    client = await Client.connect(**ClientConfig.load_client_connect_config())
    result = await client.execute_workflow(
        workflow_type, json.loads(arg), id=f"py-{uuid.uuid4()}", task_queue=task_queue
    )
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # As in start_workflow.py: leave without the native runtime's teardown.
    os._exit(0)
