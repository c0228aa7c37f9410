"""The operator commands (chalicelib.admin) against the local stack `make run` is serving.

    python -m devstack.admin [--port 8000] create-tenant --name "Acme PBX"
    python -m devstack.admin [--port 8000] rotate-key --tenant tn_...

It finds the stack by the file the stack writes at start (devstack/running.py), points boto3 at its moto with dummy
credentials, and runs the same command as against a deployed table. `make tenant` runs this when TABLE_NAME is unset.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from devstack import running


def main(argv: list[str] | None = None, state_dir: Path = running.STATE_DIR) -> int:
    """Run one chalicelib.admin command against the local stack on --port (default: PORT, else 8000)."""
    parser = argparse.ArgumentParser(prog="python -m devstack.admin", add_help=False)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    args, rest = parser.parse_known_args(argv)
    stack = running.find(args.port, state_dir)
    if stack is None:
        print(
            f"error: no local stack is serving on port {args.port}: start it with `make run` (PORT={args.port}), "
            "or set TABLE_NAME (and AWS credentials) to use a deployed table",
            file=sys.stderr,
        )
        return 2
    os.environ.update(stack.env)
    os.environ.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")  # moto takes any
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from chalicelib import admin

    return admin.main(rest)


if __name__ == "__main__":
    sys.exit(main())
