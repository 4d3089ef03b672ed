"""Registry benchmark: Berth's /v2/ against distribution directly, side by side in one run.

    .venv/bin/python bench/registry.py [--rounds 2] [--workers 2] [--keep]

Measures (issue 3): skopeo push and pull of an image of three 100 MiB random layers, alternating Berth and
direct; a single 1 GiB blob PUT and GET with curl; manifest GET with a valid token at 16 connections with
wrk (requests/s and p99); peak RSS growth of Berth's serving processes during the 1 GiB transfers.
Everything runs on loopback in a temporary directory; nothing else on the machine is touched.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MIB = 1024 * 1024
LAYER_BYTES = 100 * MIB
BIG_BLOB_BYTES = 1024 * MIB
PASSWORD = "bench-Password-123"
TARGETS = {"push": 0.95, "pull": 0.95, "blob_get": 1.0, "manifest": 5.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*command: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def timed(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


# --- images ------------------------------------------------------------------------------------------------------


def random_layout(dest: Path, layers: int, size: int) -> Path:
    """An OCI layout of `layers` random, incompressible blobs: the bytes, not the client's CPU, are measured."""
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def write(data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    layer_descriptors = [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **write(os.urandom(size))}
                         for _ in range(layers)]
    config = {"architecture": "amd64", "os": "linux",
              "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in layer_descriptors]}}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           **write(json.dumps(config).encode())},
                "layers": layer_descriptors}
    manifest_descriptor = {"mediaType": manifest["mediaType"], **write(json.dumps(manifest).encode()),
                           "annotations": {"org.opencontainers.image.ref.name": "latest"}}
    (dest / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (dest / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [manifest_descriptor]}))
    return dest


# --- the stack ---------------------------------------------------------------------------------------------------


class Stack:
    """distribution plus Berth (`python -m registry_proxy.server`) over a private var dir and SQLite database."""

    def __init__(self, workdir: Path, workers: int) -> None:
        self.workdir = workdir
        self.workers = workers
        self.registry_port, self.berth_port = free_port(), free_port()
        self.env = {
            **os.environ, "BERTH_VAR_DIR": str(workdir / "var"), "DJANGO_SETTINGS_MODULE": "portal.settings",
            "BERTH_REGISTRY_URL": f"http://127.0.0.1:{self.registry_port}",
            "BERTH_EXTERNAL_URL": f"http://127.0.0.1:{self.berth_port}", "BERTH_LOG_LEVEL": "WARNING",
            "BERTH_DATABASE_URL": f"sqlite:///{workdir / 'var' / 'bench.sqlite3'}",
        }
        self.redis_port = free_port()
        self.env["BERTH_REDIS_URL"] = f"redis://127.0.0.1:{self.redis_port}/0"  # upload sessions
        self.server: subprocess.Popen[bytes] | None = None
        self.redis: subprocess.Popen[bytes] | None = None
        self.distribution: Any = None
        self.open_distribution: Any = None

    @property
    def berth(self) -> str:
        return f"127.0.0.1:{self.berth_port}"

    @property
    def direct(self) -> str:
        return f"127.0.0.1:{self.registry_port}"

    def start(self) -> None:
        self.redis = subprocess.Popen(["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                                       "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        os.environ.update(self.env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        from portal.registry.distribution import DistributionProcess, DistributionSetup

        call_command("migrate", verbosity=0)
        from portal.accounts.models import User
        from portal.projects.models import Member, Project
        from portal.robots.models import Robot, RobotPermission
        from portal.utilities.secrets import hash_secret, new_secret

        user = User(username="bencher")
        user.set_password(PASSWORD)
        user.save()
        project = Project.objects.create(name="bench")
        Member.objects.create(project=project, user=user, role="maintainer")
        # CI pushes and pulls as a robot: its secret is one SHA-256, where a password costs an scrypt
        # per worker and minute (reported apart by `login_costs`).
        secret = new_secret("robot")
        robot = Robot.objects.create(name="ci", project=project, secret_hash=hash_secret(secret))
        for action in ("pull", "push"):
            RobotPermission.objects.create(robot=robot, project=project, resource="repository", action=action)
        self.credentials = (robot.full_name, secret)
        self.password_credentials = ("bencher", PASSWORD)
        self.upstream_credentials = (settings.REGISTRY_USERNAME, settings.REGISTRY_PASSWORD)
        setup = DistributionSetup.from_settings()
        self.distribution = DistributionProcess(setup)
        self.distribution.start()
        # The same storage served without distribution's per-request bcrypt check: the fairest baseline.
        self.open_port = free_port()
        self.open_distribution = DistributionProcess(dataclasses.replace(
            setup, listen=f"127.0.0.1:{self.open_port}", config_dir=self.workdir / "open", require_auth=False))
        self.open_distribution.start()
        log = open(self.workdir / "berth.log", "wb")  # noqa: SIM115 - the child's, for the run's length
        self.server = subprocess.Popen(
            [PYTHON, "-m", "registry_proxy.server", "--bind", self.berth, "--workers", str(self.workers)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.berth}/v2/", timeout=1)
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"Berth did not start; see {self.workdir / 'berth.log'}")

    def token(self, *scopes: str, credentials: tuple[str, str] | None = None) -> str:
        query = "&".join(["service=berth", *(f"scope={scope}" for scope in scopes)])
        request = urllib.request.Request(f"http://{self.berth}/service/token?{query}")
        import base64

        basic = base64.b64encode(":".join(credentials or self.credentials).encode()).decode()
        request.add_header("Authorization", f"Basic {basic}")
        with urllib.request.urlopen(request) as response:
            return str(json.load(response)["token"])

    def serving_pids(self) -> list[int]:
        assert self.server is not None
        children = Path(f"/proc/{self.server.pid}/task/{self.server.pid}/children")
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        return pids or [self.server.pid]

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(20)
            except subprocess.TimeoutExpired:
                self.server.kill()
        for process in (self.distribution, self.open_distribution):
            if process is not None:
                process.stop()
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(10)


# --- measurements ------------------------------------------------------------------------------------------------


def skopeo_copy(source: str, dest: str, creds: tuple[str, str], *, push: bool) -> None:
    flag = "--dest" if push else "--src"
    run("skopeo", "--insecure-policy", "copy", "--quiet", f"{flag}-tls-verify=false", f"{flag}-creds",
        ":".join(creds), source, dest)


def bench_push_pull(stack: Stack, rounds: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"push_berth": [], "push_direct": [], "pull_berth": [], "pull_direct": []}
    image_mb = 3 * LAYER_BYTES / 1e6
    for round_number in range(rounds):
        for via in ("berth", "direct"):
            # Fresh random layers every push: distribution would skip (mount) blobs it already holds.
            layout = random_layout(stack.workdir / f"layout-{via}-{round_number}", 3, LAYER_BYTES)
            host = stack.berth if via == "berth" else stack.direct
            creds = stack.credentials if via == "berth" else stack.upstream_credentials
            reference = f"docker://{host}/bench/{via}-{round_number}:latest"
            seconds = timed(lambda s=f"oci:{layout}:latest", r=reference, c=creds: skopeo_copy(s, r, c, push=True))
            results[f"push_{via}"].append(image_mb / seconds)
            shutil.rmtree(layout)
        for via in ("berth", "direct"):
            host = stack.berth if via == "berth" else stack.direct
            creds = stack.credentials if via == "berth" else stack.upstream_credentials
            dest = stack.workdir / f"pulled-{via}"
            shutil.rmtree(dest, ignore_errors=True)
            reference = f"docker://{host}/bench/{via}-{round_number}:latest"
            seconds = timed(lambda r=reference, d=f"oci:{dest}:latest", c=creds: skopeo_copy(r, d, c, push=False))
            results[f"pull_{via}"].append(image_mb / seconds)
            shutil.rmtree(dest, ignore_errors=True)
    return results


class RssSampler:
    """Peak resident memory of the serving processes, sampled every 10 ms on a thread."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.baseline = {pid: rss(pid) for pid in pids}
        self.peak = dict(self.baseline)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], rss(pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return max(self.peak[pid] - self.baseline[pid] for pid in self.pids) / 1024


def rss(pid: int) -> int:
    """VmRSS in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return run("curl", "-sS", "--fail-with-body", "-o", "/dev/null", *args)


def upload_url(host: str, repository: str, auth: list[str]) -> str:
    result = run("curl", "-sS", "-X", "POST", "-D", "-", "-o", "/dev/null", *auth,
                 f"http://{host}/v2/{repository}/blobs/uploads/")
    location = re.search(r"(?im)^location:\s*(\S+)", result.stdout)
    assert location, result.stdout
    url = location.group(1)
    return url if url.startswith("http") else f"http://{host}{url}"


def bench_big_blob(stack: Stack, rounds: int, get_repeats: int = 3) -> dict[str, list[float]]:
    blob = stack.workdir / "big.blob"
    with open(blob, "wb") as handle:
        for _ in range(BIG_BLOB_BYTES // (64 * MIB)):
            handle.write(os.urandom(64 * MIB))
    digest = "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest()
    berth_auth = ["-H", f"Authorization: Bearer {stack.token('repository:bench/big:pull,push')}"]
    direct_auth = ["-u", ":".join(stack.upstream_credentials)]
    results: dict[str, list[float]] = {"put_berth": [], "put_direct": [], "get_berth": [], "get_direct": [],
                                       "get_berth_proxied": [], "rss_growth_mib": []}
    size_mb = BIG_BLOB_BYTES / 1e6
    for _ in range(rounds):
        with RssSampler(stack.serving_pids()) as sampler:
            for via, host, auth in (("berth", stack.berth, berth_auth), ("direct", stack.direct, direct_auth)):
                url = upload_url(host, "bench/big", auth)
                separator = "&" if "?" in url else "?"
                target = f"{url}{separator}digest={digest}"
                seconds = timed(lambda a=auth, t=target: curl("-X", "PUT", "-H", "Content-Type: application/octet-stream",
                                                              "-T", str(blob), *a, t))
                results[f"put_{via}"].append(size_mb / seconds)
            # GETs are quick and noisy on a shared machine: several alternating ones per round.
            for _ in range(get_repeats):
                for via, host, auth in (("berth", stack.berth, berth_auth), ("direct", stack.direct, direct_auth)):
                    target = f"http://{host}/v2/bench/big/blobs/{digest}"
                    seconds = timed(lambda a=auth, t=target: curl(*a, t))
                    results[f"get_{via}"].append(size_mb / seconds)
                # A Range request takes the streaming proxy path, as every GET does with S3 storage.
                target = f"http://{stack.berth}/v2/bench/big/blobs/{digest}"
                seconds = timed(lambda t=target: curl(*berth_auth, "-H", "Range: bytes=0-", t))
                results["get_berth_proxied"].append(size_mb / seconds)
        results["rss_growth_mib"].append(sampler.growth_mib)
    blob.unlink()
    return results


def bench_sha512_upload(stack: Stack, rounds: int) -> dict[str, list[float]]:
    """1 GiB PUT through Berth named by its sha256, then by its sha512: what verifying a sha512 costs (only
    the upload that names one pays it; distribution re-reads the upload to hash it)."""
    blob = stack.workdir / "wide.blob"
    with open(blob, "wb") as handle:
        for _ in range(BIG_BLOB_BYTES // (64 * MIB)):
            handle.write(os.urandom(64 * MIB))
    data = blob.read_bytes()
    digests = {"sha256": "sha256:" + hashlib.sha256(data).hexdigest(),
               "sha512": "sha512:" + hashlib.sha512(data).hexdigest()}
    del data
    results: dict[str, list[float]] = {"sha256": [], "sha512": []}
    for round_number in range(rounds):
        for algorithm, digest in digests.items():
            repository = f"bench/wide-{algorithm}-{round_number}"
            auth = ["-H", f"Authorization: Bearer {stack.token(f'repository:{repository}:pull,push')}"]
            url = upload_url(stack.berth, repository, auth)
            separator = "&" if "?" in url else "?"
            seconds = timed(lambda a=auth, t=f"{url}{separator}digest={digest}": curl(
                "-X", "PUT", "-H", "Content-Type: application/octet-stream", "-T", str(blob), *a, t))
            results[algorithm].append(BIG_BLOB_BYTES / 1e6 / seconds)
    blob.unlink()
    return results


def wrk(url: str, header: str, accept: str, seconds: int) -> tuple[float, float]:
    """(requests/s, p99 ms) at 16 connections."""
    result = run("wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-H", header, "-H", f"Accept: {accept}", url)
    rate = float(re.search(r"Requests/sec:\s*([\d.]+)", result.stdout).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", result.stdout)
    assert p99, result.stdout
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rate, float(p99.group(1)) * scale


def bench_manifest(stack: Stack, seconds: int, rounds: int) -> dict[str, list[float]]:
    import base64

    accept = "application/vnd.oci.image.manifest.v1+json"
    path = "/v2/bench/berth-0/manifests/latest"
    bearer = f"Authorization: Bearer {stack.token('repository:bench/berth-0:pull')}"
    basic = "Authorization: Basic " + base64.b64encode(":".join(stack.upstream_credentials).encode()).decode()
    results: dict[str, list[float]] = {f"{kind}_{via}": [] for kind in ("rps", "p99")
                                       for via in ("berth", "direct", "open")}
    targets = (("berth", stack.berth, bearer), ("direct", stack.direct, basic),
               ("open", f"127.0.0.1:{stack.open_port}", "X-Bench: no-auth"))
    for _ in range(rounds):
        for via, host, header in targets:
            rate, p99 = wrk(f"http://{host}{path}", header, accept, seconds)
            results[f"rps_{via}"].append(rate)
            results[f"p99_{via}"].append(p99)
    return results


def login_costs(stack: Stack, tries: int = 6) -> dict[str, list[float]]:
    """Seconds per token request: with a password (scrypt the first time in each worker, then remembered
    for a minute) and with the robot's secret."""
    results: dict[str, list[float]] = {"password": [], "robot": []}
    for _ in range(tries):
        results["password"].append(timed(lambda: stack.token(credentials=stack.password_credentials)))
        results["robot"].append(timed(lambda: stack.token()))
    return results


# --- report ------------------------------------------------------------------------------------------------------


# A busy machine slows distribution more than Berth (figures taken at load 12 flattered Berth by 10-20 %), so
# ratios are only printed when the run starts on a quiet machine, unless the caller asks for them anyway.
QUIET_LOAD_PER_CPU = 0.5
RATIOS = {"shown": True}


def machine_is_quiet() -> bool:
    return os.getloadavg()[0] <= QUIET_LOAD_PER_CPU * (os.cpu_count() or 1)


def report(name: str, berth: list[float], direct: list[float], unit: str, target: float | None) -> None:
    b, d = statistics.median(berth), statistics.median(direct)
    if not RATIOS["shown"]:
        print(f"{name:<28} Berth {b:10.1f} {unit:<6} direct {d:10.1f} {unit:<6} ratio withheld (busy machine)")
        print(f"{'':<28} runs: Berth {', '.join(f'{v:.1f}' for v in berth)}; "
              f"direct {', '.join(f'{v:.1f}' for v in direct)}")
        return
    ratio = b / d if d else float("nan")
    verdict = "" if target is None else ("  meets target" if ratio >= target else f"  BELOW target {target}×")
    print(f"{name:<28} Berth {b:10.1f} {unit:<6} direct {d:10.1f} {unit:<6} ratio {ratio:5.2f}×{verdict}")
    print(f"{'':<28} runs: Berth {', '.join(f'{v:.1f}' for v in berth)}; direct {', '.join(f'{v:.1f}' for v in direct)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of each bulk measurement")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers serving Berth")
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--only", choices=["push-pull", "blob", "sha512", "manifest", "login"], action="append")
    parser.add_argument("--busy-ok", action="store_true",
                        help=f"print ratios even when the load average is above {QUIET_LOAD_PER_CPU} per CPU")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    if not machine_is_quiet() and not args.busy_ok:
        RATIOS["shown"] = False
        print(f"load average {load_before:.1f} on {os.cpu_count()} CPUs is above {QUIET_LOAD_PER_CPU} per CPU: "
              "figures are printed, ratios withheld (--busy-ok prints them)")
    for tool in ("skopeo", "curl", "wrk", "/usr/bin/docker-registry"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (Debian packages skopeo, curl, wrk, docker-registry)")
    workdir = Path(tempfile.mkdtemp(prefix="berth-bench-"))
    stack = Stack(workdir, args.workers)
    only = set(args.only or ["push-pull", "blob", "sha512", "manifest", "login"])
    try:
        stack.start()
        print(f"Berth {stack.berth} ({args.workers} workers) vs distribution {stack.direct}; cpus: {os.cpu_count()}; "
              f"load average before: {load_before:.1f}")
        if "push-pull" in only or "manifest" in only:
            moved = bench_push_pull(stack, args.rounds if "push-pull" in only else 1)
            if "push-pull" in only:
                report("skopeo push 3×100 MiB", moved["push_berth"], moved["push_direct"], "MB/s", TARGETS["push"])
                report("skopeo pull 3×100 MiB", moved["pull_berth"], moved["pull_direct"], "MB/s", TARGETS["pull"])
        if "blob" in only:
            big = bench_big_blob(stack, args.rounds)
            report("1 GiB blob PUT (curl)", big["put_berth"], big["put_direct"], "MB/s", None)
            report("1 GiB blob GET (curl)", big["get_berth"], big["get_direct"], "MB/s", TARGETS["blob_get"])
            report("  streamed, not sendfile", big["get_berth_proxied"], big["get_direct"], "MB/s", None)
            growth = max(big["rss_growth_mib"])
            print(f"{'peak RSS growth, 1 GiB':<28} {growth:.1f} MiB (target < 20 MiB)"
                  + ("  meets target" if growth < 20 else "  ABOVE target"))
        if "sha512" in only:
            wide = bench_sha512_upload(stack, args.rounds)
            sha256_rate, sha512_rate = statistics.median(wide["sha256"]), statistics.median(wide["sha512"])
            print(f"{'1 GiB PUT through Berth':<28} by sha256 {sha256_rate:8.1f} MB/s   by sha512 {sha512_rate:8.1f} MB/s"
                  f"   ratio {sha512_rate / sha256_rate:5.2f}×")
        if "login" in only:
            costs = login_costs(stack)
            print(f"{'token request':<28} password: {', '.join(f'{v * 1000:.0f}' for v in costs['password'])} ms; "
                  f"robot: {', '.join(f'{v * 1000:.0f}' for v in costs['robot'])} ms")
        if "manifest" in only:
            manifest = bench_manifest(stack, args.wrk_seconds, args.rounds)
            report("manifest GET, 16 conns", manifest["rps_berth"], manifest["rps_direct"], "req/s",
                   TARGETS["manifest"])
            report("  vs distribution, no auth", manifest["rps_berth"], manifest["rps_open"], "req/s",
                   TARGETS["manifest"])
            p99 = statistics.median(manifest["p99_berth"])
            print(f"{'manifest GET p99':<28} Berth {p99:.2f} ms, direct {statistics.median(manifest['p99_direct']):.2f} "
                  f"ms, direct without auth {statistics.median(manifest['p99_open']):.2f} ms"
                  + ("  meets target (< 10 ms)" if p99 < 10 else "  ABOVE target (10 ms)"))
        # Not a verdict: the benchmark itself loads the machine, so the figure after is only for the record.
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        stack.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
