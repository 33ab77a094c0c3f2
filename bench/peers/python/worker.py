"""Benchmark peer: a Temporal worker on the Python SDK (temporalio) serving the contract's
workflows and ``greet`` activity, set up like the Python SDK guide's app (sync activity on a thread pool of
100, default sandboxed workflow runner, every other setting at its default).

Prints ``ready`` on stdout once the worker has started, runs until SIGTERM or SIGINT, then
shuts down gracefully and exits 0. Logs go to stderr, warnings and up.

    python3 bench/peers/python/worker.py --address 127.0.0.1:7233 --task-queue Q [--max-cached N]
"""

import argparse
import asyncio
import concurrent.futures
import logging
import os
import signal
import sys

# Workflow and activity modules are imported by name (as in the Python SDK guide's app), from beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from temporalio.client import Client  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from activities.greet import greet  # noqa: E402
from workflows.chain import ChainWorkflow  # noqa: E402
from workflows.greeting import GreetingWorkflow  # noqa: E402
from workflows.parked import ParkedWorkflow  # noqa: E402

NAMESPACE = "default"
# The contract's default cache size: large enough that no benchmark run is evicted.
DEFAULT_MAX_CACHED = 10_000
# Concurrent activities, for every peer. Also the SDK's default; spelled out for the contract.
MAX_ACTIVITIES = 100


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--address", required=True, help="Temporal frontend, e.g. 127.0.0.1:7233"
    )
    parser.add_argument(
        "--task-queue", required=True, help="task queue to poll, in namespace `default`"
    )
    parser.add_argument(
        "--max-cached",
        type=int,
        default=DEFAULT_MAX_CACHED,
        help=f"sticky workflow cache size (default {DEFAULT_MAX_CACHED})",
    )
    args = parser.parse_args()
    if args.max_cached < 0:
        parser.error("--max-cached must be 0 or more (0 turns the sticky cache off)")
    return args


async def main(args: argparse.Namespace) -> None:
    # Handlers exist before `ready`, so a signal sent right after it is not lost.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    try:
        client = await Client.connect(args.address, namespace=NAMESPACE)
    except Exception as err:
        raise SystemExit(
            f"worker.py: connecting to the Temporal server at {args.address} failed "
            f"({err}); is it running?"
        ) from err

    with concurrent.futures.ThreadPoolExecutor(
        max_workers=MAX_ACTIVITIES
    ) as activity_executor:
        worker = Worker(
            client,
            task_queue=args.task_queue,
            workflows=[GreetingWorkflow, ParkedWorkflow, ChainWorkflow],
            activities=[greet],
            activity_executor=activity_executor,
            max_cached_workflows=args.max_cached,
            max_concurrent_activities=MAX_ACTIVITIES,
        )
        # `async with` starts the worker in the background and shuts it down gracefully
        # (in-flight tasks finish) on the way out.
        async with worker:
            print("ready", flush=True)
            await stop.wait()


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(main(parse_args()))
