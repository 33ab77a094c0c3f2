"""Benchmark peer: replays one recorded ChainWorkflow history K times with the Python SDK's
``Replayer`` and prints how many events per second it replayed, as one JSON line.

Only the replays are timed: not process start, file reading or decoding. Each replay is one
``replay_workflow`` call, as a user checking a history would make. Exits 1 if any replay
fails (nondeterminism included).

    python3 bench/peers/python/replay.py --history PATH --workflow-id ID [--repeat K]

PATH holds a binary protobuf ``temporal.api.history.v1.History`` (convert the CLI's JSON with
``history_to_binary.py`` beside this file).
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from google.protobuf.message import DecodeError  # noqa: E402
from temporalio.api.history.v1 import History  # noqa: E402
from temporalio.client import WorkflowHistory  # noqa: E402
from temporalio.worker import Replayer  # noqa: E402

from workflows.chain import ChainWorkflow  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--history",
        required=True,
        help="binary protobuf temporal.api.history.v1.History",
    )
    parser.add_argument(
        "--workflow-id", required=True, help="the workflow id the history was recorded under"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="how many times to replay it (default 1)"
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be a positive integer")
    return args


def read_history(path: str) -> History:
    """Reads and decodes the history file, exiting with a message naming the fix."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        sys.exit(f"replay.py: reading the history file {path}: {err}")
    history = History()
    try:
        history.ParseFromString(data)
    except DecodeError as err:
        sys.exit(
            f"replay.py: {path} is not a binary temporal.api.history.v1.History ({err}); if it "
            "is JSON from `temporal workflow show --output json`, convert it with "
            "bench/peers/python/history_to_binary.py"
        )
    if not history.events or not history.events[0].HasField(
        "workflow_execution_started_event_attributes"
    ):
        sys.exit(
            f"replay.py: {path} does not start with WorkflowExecutionStarted; "
            "is it a whole history?"
        )
    return history


async def main(args: argparse.Namespace) -> None:
    history = read_history(args.history)
    events = list(history.events)
    replayer = Replayer(workflows=[ChainWorkflow])

    start = time.perf_counter()
    for i in range(args.repeat):
        try:
            await replayer.replay_workflow(WorkflowHistory(args.workflow_id, events))
        except Exception as err:
            sys.exit(f"replay.py: replay {i + 1} of {args.repeat} failed: {err!r}")
    seconds = time.perf_counter() - start

    total = len(events) * args.repeat
    print(
        json.dumps(
            {"events": total, "seconds": seconds, "events_per_second": total / seconds}
        ),
        flush=True,
    )


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(main(parse_args()))
