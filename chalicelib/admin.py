"""Operator commands: create a tenant, rotate its API key (against the table TABLE_NAME names).

    python -m chalicelib.admin create-tenant --name "Acme PBX"
    python -m chalicelib.admin rotate-key --tenant tn_...

The key is printed once; only its SHA-256 is stored.
"""

from __future__ import annotations

import argparse
import os
import sys

from chalicelib import wiring
from chalicelib.domain.errors import ServiceError
from chalicelib.services import tenants
from chalicelib.services.deps import Deps


def _deps() -> Deps:
    table = os.environ.get("TABLE_NAME")
    if not table:
        raise SystemExit("TABLE_NAME must name the service's DynamoDB table (see the stack's TableName output)")
    return wiring.tenant_deps(table)


def main(argv: list[str] | None = None) -> int:
    """Run one operator command."""
    parser = argparse.ArgumentParser(prog="python -m chalicelib.admin")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-tenant", help="create a tenant and print its id and API key")
    create.add_argument("--name", required=True)
    rotate = sub.add_parser("rotate-key", help="issue a new API key; the old one stops working at once")
    rotate.add_argument("--tenant", required=True)
    args = parser.parse_args(argv)
    if args.command == "create-tenant" and not args.name.strip():
        parser.error("--name must not be empty")
    try:
        deps = _deps()
        if args.command == "create-tenant":
            tenant_id, key = tenants.create_tenant(deps, args.name.strip())
            print(f"tenant_id={tenant_id}\napi_key={key}")
        else:
            key = tenants.rotate_key(deps, args.tenant)
            print(f"tenant_id={args.tenant}\napi_key={key}")
    except ServiceError as err:
        print(f"error: {err.code}: {err.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
