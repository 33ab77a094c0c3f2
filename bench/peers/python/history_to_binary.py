"""Converts a history exported by ``temporal workflow show --output json`` into the binary
protobuf ``temporal.api.history.v1.History`` that the replayers read.

    python3 bench/peers/python/history_to_binary.py h.json h.bin

Only for trying the replayers by hand: the benchmark harness fetches histories over gRPC and
writes them in binary itself. The Python SDK's JSON reader is used because it accepts the
CLI's JSON (the Rust SDK's ``WorkflowHistory::from_json`` rejects it).
"""

import sys

from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: history_to_binary.py HISTORY.json OUT.bin")
    src, dst = sys.argv[1], sys.argv[2]
    try:
        with open(src, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        sys.exit(f"history_to_binary.py: reading {src}: {err}")
    try:
        # The id is not stored in the binary form; the replayers take it as --workflow-id.
        history = WorkflowHistory.from_json("unused", text)
    except Exception as err:
        sys.exit(
            f"history_to_binary.py: {src} is not a history in the CLI's JSON ({err}); export "
            "it with `temporal workflow show -w ID --output json`"
        )
    data = History(events=history.events).SerializeToString()
    with open(dst, "wb") as f:
        f.write(data)
    print(f"{len(history.events)} events -> {dst} ({len(data)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
