"""Benchmark: import a ~50 MB contact CSV through the real upload path (`uploads.process_upload`) against moto S3.

moto runs in its own process (`devstack.moto_proc`, as `make run` does) with the resources of
infra/template.json, so this process holds only what the upload worker holds: the measured memory is the import's.
The file is announced with `uploads.create_upload` and PUT to the presigned URL it answers (not timed), then
`process_upload` (what the upload worker runs for the S3 event) is timed: HEAD, streamed GET, parse + validate
every number, spool the contacts to a temporary file, multipart PUT of the processed list, upload record updated.

Memory: peak RSS of this process during the import minus its peak before it (`resource.getrusage` ru_maxrss,
which is the process's high-water mark); with BENCH_TRACEMALLOC=1 a second import runs under tracemalloc and its
peak of Python allocations is printed too (tracemalloc slows the import down, so it is not timed).

Environment: BENCH_CSV_MB (default 50, at most the 50 MiB limit), BENCH_TRACEMALLOC (0).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.awscount import AwsCounter, by_service, code_fingerprint, diff, only  # noqa: E402
from bench.contacts import write_csv  # noqa: E402
from bench.figures import print_figures  # noqa: E402


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def upload_state(deps: Any, tenant_id: str, upload_id: str) -> dict[str, Any]:
    """An upload's status and error as stored ({} when there is none), read without changing it."""
    upload = deps.uploads.get(tenant_id, upload_id)
    return {} if upload is None else {"status": str(upload.status), "error": upload.error}


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1024.0 * 1024.0)


def bench_csv_import(megabytes: float | None = None) -> dict[str, Any]:
    """Generate the file, put it in moto's bucket, time process_upload; returns the figures."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.pop("AWS_PROFILE", None)
    counter = AwsCounter()
    counter.install()
    code = code_fingerprint(REPO)

    from chalicelib.domain.contacts_csv import MAX_CSV_BYTES

    mb = float(megabytes if megabytes is not None else os.environ.get("BENCH_CSV_MB", "50"))
    target = min(int(mb * 1024 * 1024), MAX_CSV_BYTES)

    from devstack import moto_proc

    moto, moto_url = moto_proc.spawn()
    try:
        os.environ["AWS_ENDPOINT_URL"] = moto_url
        from devstack.resources import create_resources

        resources = create_resources(None, REPO / "infra" / "template.json")
        os.environ.update(resources.env())
        os.environ["PUBLIC_BASE_URL"] = "http://127.0.0.1:9"

        from chalicelib import config, wiring
        from chalicelib.domain.uploads import CreateUpload
        from chalicelib.services import tenants, uploads

        config.settings.cache_clear()
        d = wiring.build(config.settings())
        tenant_id, _ = tenants.create_tenant(d, "Bench PBX", api_key="bench-csv-key")

        with tempfile.TemporaryDirectory(prefix="bench-csv-") as tmp:
            path = Path(tmp) / "contacts.csv"
            t = time.perf_counter()
            rows, size = write_csv(path, target_bytes=target)
            generate_s = time.perf_counter() - t

            def put_file() -> str:
                upload = uploads.create_upload(
                    d,
                    tenant_id,
                    CreateUpload(kind="contacts_csv", filename="contacts.csv", content_type="text/csv", size=size),
                )
                with path.open("rb") as body:
                    response = requests.put(
                        upload["upload_url"], data=body, headers=upload["upload_headers"], timeout=300
                    )
                response.raise_for_status()
                return str(upload["id"])

            upload_id = put_file()
            rss_before, maxrss_before = _rss_mib(), _maxrss_mib()
            calls_before, sends_before = counter.snapshot()
            cpu, moto_cpu, load = time.process_time(), proc_cpu_s(moto.pid), os.getloadavg()[0]
            t = time.perf_counter()
            uploads.process_upload(d, tenant_id, upload_id)
            import_s = time.perf_counter() - t
            cpu, moto_cpu = time.process_time() - cpu, proc_cpu_s(moto.pid) - moto_cpu
            maxrss_after = _maxrss_mib()
            calls_after, sends_after = counter.snapshot()
            result = upload_state(d, tenant_id, upload_id)
            if result.get("status") != "ready":
                print(f"  upload not ready: {result.get('status')} {result.get('error')}", file=sys.stderr)
            processed = d.blobs.head(f"processed/{tenant_id}/{upload_id}.jsonl") or {"size": 0}

            figures: dict[str, Any] = {
                "file_mib": size / (1024 * 1024),
                "code": code,
                "rows": rows,
                "valid": int(result.get("valid", 0)),
                "invalid": int(result.get("invalid", 0)),
                "duplicates": int(result.get("duplicates", 0)),
                "status_ready": 1 if result.get("status") == "ready" else 0,
                "generate_s": generate_s,
                "import_s": import_s,
                "rows_per_s": rows / import_s,
                "mib_per_s": size / (1024 * 1024) / import_s,
                "us_per_row": import_s / max(rows, 1) * 1e6,
                "cpu_s": cpu,
                "moto_cpu_s": moto_cpu,
                "loadavg_1m_before": load,
                "loadavg_1m_after": os.getloadavg()[0],
                "processed_mib": int(processed["size"]) / (1024 * 1024),
                "rss_before_mib": rss_before,
                "peak_rss_delta_mib": max(0.0, maxrss_after - maxrss_before),
                "aws_calls": dict(by_service(diff(calls_after, calls_before))),
                "aws_http_sends": sum(only(diff(sends_after, sends_before), "service").values()),
                "aws_calls_by_operation": dict(sorted(only(diff(calls_after, calls_before), "service").items())),
            }

            if os.environ.get("BENCH_TRACEMALLOC", "0") == "1":
                import tracemalloc

                again = put_file()
                tracemalloc.start()
                t = time.perf_counter()
                uploads.process_upload(d, tenant_id, again)
                figures["tracemalloc_import_s"] = time.perf_counter() - t
                figures["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / (1024 * 1024)
                tracemalloc.stop()
        return figures
    finally:
        moto.terminate()
        try:
            moto.wait(timeout=10)
        except Exception:  # noqa: BLE001
            moto.kill()
            moto.wait()


def report(figures: dict[str, Any]) -> None:
    """Print the figures."""
    print_figures(
        f"benchmark: contact CSV import, {figures['file_mib']:.1f} MiB, through uploads.process_upload "
        "(moto in its own process)",
        figures,
        width=22,
        note="  (peak_rss_delta_mib: ru_maxrss high-water mark during the import minus before it; "
        "tracemalloc_peak_mib, if shown: peak of Python allocations during a second, untimed import)",
    )


def main() -> int:
    """Run the CSV import benchmark and print its figures."""
    report(bench_csv_import())
    return 0


if __name__ == "__main__":
    sys.exit(main())
