"""Build the deployable CloudFormation (SAM) template: `chalice package` merged with infra/template.json."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MERGE_TEMPLATE = ROOT / "infra" / "template.json"
DEFAULT_OUT = ROOT / "dist"
# The exact versions Lambda gets (`make lock` writes it from requirements.txt, which Chalice reads).
LOCK = ROOT / "requirements.lock"
# Chalice reuses the libraries it built before, keyed on requirements.txt alone (not on the lock).
CHALICE_CACHE = ROOT / ".chalice" / "deployments"
# The files `chalice package --pkg-format cloudformation --template-format json` writes.
OUTPUT_FILES = ("sam.json", "deployment.zip")
# Development only, never for Lambda: the local stack and its simulators, tests, benchmarks, scripts, moto. Chalice
# ships app.py and chalicelib/ whole, so anything left under chalicelib/ (e.g. an old chalicelib/local/ that git no
# longer tracks) would go along; the build refuses such a zip.
DEV_ONLY_PREFIXES = ("devstack/", "tests/", "bench/", "scripts/", "chalicelib/local/", "moto/")
DEV_ONLY_WORDS = ("simulator", "twilio_sim")


def chalice_executable() -> Path:
    """The venv's `chalice` console script (next to the running interpreter)."""
    return Path(sys.executable).parent / "chalice"


def package_command(out_dir: Path, stage: str) -> list[str]:
    """The `chalice package` command line that writes the merged template and the code bundle to out_dir."""
    return [
        str(chalice_executable()),
        "package",
        "--stage",
        stage,
        "--pkg-format",
        "cloudformation",
        "--template-format",
        "json",
        "--merge-template",
        str(MERGE_TEMPLATE),
        str(out_dir),
    ]


def package(out_dir: Path = DEFAULT_OUT, stage: str = "dev") -> Path:
    """Package the app into out_dir and return the path of the produced template; raise on failure."""
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:  # never leave a stale template next to a failed build
        (out_dir / name).unlink(missing_ok=True)
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # Chalice's pip (download, wheel) resolves requirements.txt within the lock's pins.
    env["PIP_CONSTRAINT"] = str(LOCK)
    drop_stale_chalice_cache()
    subprocess.run(package_command(out_dir, stage), cwd=ROOT, env=env, check=True)  # noqa: S603
    template = out_dir / "sam.json"
    if not template.is_file():
        raise RuntimeError(f"chalice package did not write {template}")
    fix_fifo_event_sources(template)
    fix_stream_event_sources(template)
    with zipfile.ZipFile(out_dir / "deployment.zip") as bundle:
        names = bundle.namelist()
    problems = [f"development-only files: {', '.join(found[:10])}" for found in [dev_only_entries(names)] if found]
    problems += [f"not at the lock's version: {', '.join(found)}" for found in [unlocked_libraries(names)] if found]
    if problems:
        for name in OUTPUT_FILES:
            (out_dir / name).unlink(missing_ok=True)
        raise RuntimeError("deployment.zip would ship " + "; ".join(problems))
    return template


def locked_versions(lock: Path = LOCK) -> dict[str, str]:
    """The lock's pins: normalized project name -> version."""
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", lock.read_text(), re.MULTILINE)
    return {_normalized(name): version for name, version in pins}


def shipped_versions(names: Iterable[str]) -> dict[str, str]:
    """The libraries in a deployment zip, by their top-level `<name>-<version>.dist-info/` directories."""
    found = {n.split("/", 1)[0].removesuffix(".dist-info") for n in names if n.split("/", 1)[0].endswith(".dist-info")}
    return {_normalized(d.rsplit("-", 1)[0]): d.rsplit("-", 1)[1] for d in found}


def unlocked_libraries(names: Iterable[str], lock: Path = LOCK) -> list[str]:
    """Libraries in a deployment zip that the lock does not pin at that version, as `name==version`."""
    pins = locked_versions(lock)
    return sorted(f"{n}=={v}" for n, v in shipped_versions(names).items() if pins.get(n) != v)


def drop_stale_chalice_cache() -> None:
    """Forget the libraries Chalice built before if requirements.lock changed since (its cache key ignores it)."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    stamp = CHALICE_CACHE / "requirements.lock.sha256"
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return
    shutil.rmtree(CHALICE_CACHE, ignore_errors=True)
    CHALICE_CACHE.mkdir(parents=True)
    stamp.write_text(digest + "\n")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dev_only_entries(names: Iterable[str]) -> list[str]:
    """The entries of a deployment zip that Lambda must never get (see DEV_ONLY_PREFIXES)."""
    return [n for n in names if n.startswith(DEV_ONLY_PREFIXES) or any(w in n.lower() for w in DEV_ONLY_WORDS)]


def fix_fifo_event_sources(template: Path) -> None:
    """Drop MaximumBatchingWindowInSeconds from SQS event sources on FIFO queues, and give them
    ReportBatchItemFailures.

    Chalice 1.34 always writes the window (0 by default), but Lambda does not support a batching window on FIFO
    queues; and it cannot declare FunctionResponseTypes, which the send worker needs: a chunk it hands back (its
    sender number has no slot for a while) is answered as a batch item failure, so the message stays on the queue.
    Without it Lambda would delete that message and its recipients would never be sent.
    """
    data = json.loads(template.read_text())
    changed = False
    for resource in data.get("Resources", {}).values():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            props = event.get("Properties", {})
            if event.get("Type") == "SQS" and ".fifo" in json.dumps(props.get("Queue")):
                changed |= props.pop("MaximumBatchingWindowInSeconds", None) is not None
                if props.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
                    props["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
                    changed = True
    if changed:
        template.write_text(json.dumps(data, indent=2))


# The table's stream records the events worker wants, as (pk prefix, sk prefix): campaigns, sessions and opt-outs in a
# tenant's partition, chat-log messages in a session's (chalicelib/domain/pbx_events.py WANTED_KEYS says the same;
# tests/contract/test_infra.py checks they agree). Lambda drops every other record before invoking the function.
STREAM_KEYS = (("TENANT#", "CAMPAIGN#"), ("TENANT#", "SESSION#"), ("SESSION#", "MSG#"), ("TENANT#", "OPTOUT#"))
STREAM_TABLE = "CampaignsTable"
STREAM_FAILURE_QUEUE = "EventsStreamFailureQueue"
# A batch that keeps failing is retried (bisected, so one bad record does not hold the others back) this many times;
# then its range goes to the failure queue. The stream keeps records 24 hours.
STREAM_MAX_RETRIES = 10


def stream_filters() -> list[dict[str, str]]:
    """The event source mapping's FilterCriteria filters (one per wanted key shape; at most 5 by default)."""
    return [
        {"Pattern": json.dumps({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": pk}]}, "sk": {"S": [{"prefix": sk}]}}}})}
        for pk, sk in STREAM_KEYS
    ]


def fix_stream_event_sources(template: Path) -> None:
    """Point each DynamoDB event source at the table's stream and give it a filter, retries and an on-failure queue.

    Chalice needs the stream ARN when app.py is imported (config.TABLE_STREAM_ARN, a placeholder here): the template
    gets the table's StreamArn instead, so the worker reads the stream of the table this stack creates.
    """
    data = json.loads(template.read_text())
    changed = False
    for resource in data.get("Resources", {}).values():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") != "DynamoDB":
                continue
            event["Properties"].update(
                {
                    "Stream": {"Fn::GetAtt": [STREAM_TABLE, "StreamArn"]},
                    "FilterCriteria": {"Filters": stream_filters()},
                    "BisectBatchOnFunctionError": True,
                    "MaximumRetryAttempts": STREAM_MAX_RETRIES,
                    "DestinationConfig": {
                        "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": [STREAM_FAILURE_QUEUE, "Arn"]}}
                    },
                }
            )
            changed = True
    if changed:
        template.write_text(json.dumps(data, indent=2))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: package, report where the template is and how long it took."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: dist/)")
    parser.add_argument("--stage", default="dev", help="Chalice stage (default: dev)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        template = package(args.out, args.stage)
    except (subprocess.CalledProcessError, RuntimeError, OSError, zipfile.BadZipFile) as exc:
        print(f"package failed: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {template} and {template.with_name('deployment.zip')} in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
