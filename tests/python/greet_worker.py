"""A Python SDK worker serving the `greet` activity, so a Sandglass workflow can call it.

Usage: greet_worker.py ADDRESS TASK_QUEUE
Prints `ready` once polling; runs until killed.
"""

import asyncio
import concurrent.futures
import sys

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker


@activity.defn(name="greet")
def greet(name: str) -> str:
    return f"Hello from Python, {name}!"


async def main() -> None:
    address, task_queue = sys.argv[1:3]
    client = await Client.connect(address)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as executor:
        worker = Worker(
            client, task_queue=task_queue, activities=[greet], activity_executor=executor
        )
        print("ready", flush=True)
        await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
