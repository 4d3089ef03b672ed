"""Fleet benchmark: from `POST /containers` to a running container, cached and uncached, and 100 at once.

Starts a whole Berth on loopback: PostgreSQL and Redis (scripts/lib.sh), distribution (run_registry),
Berth's server (portal and /v2/, registry_proxy.server), a Celery worker, and two agents joined with
join tokens; images are pushed through Berth and agents pull through it with per-deployment
tokens. Then:

- uncached: each sample deploys an image no agent has (busybox plus a unique 4 MiB layer);
- cached: each sample deploys the busybox image every agent already holds;
- throughput: 100 deployments of the cached image posted back to back, spread over the agents,
  timed until every one runs.

Each deployment's breakdown comes from the timings the worker records: queue (request → task
start), pull, create, start; "observed" is when the API client saw it running.

    .venv/bin/python bench/fleet.py [--samples 5] [--deployments 100] [--pg-port 55741] [--redis-port 55742]

Needs root (containers). Results go to bench/results/fleet-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH_VAR = ROOT / "var" / "bench" / "fleet"
HOSTS = ("bench-a", "bench-b")


def shell(command: str) -> None:
    subprocess.run(["bash", "-c", f"source {ROOT}/scripts/lib.sh && {command}"], check=True, cwd=ROOT)


def wait(condition: Any, timeout: float, what: str, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.processes: list[subprocess.Popen[bytes]] = []
        self.agents: list[Any] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="berth-fleet-bench-"))

    # -- set-up ---------------------------------------------------------------------------------

    def start_services(self) -> None:
        from tests.fleet.agents import free_port

        if "BERTH_DATABASE_URL" not in os.environ:
            shell(f"start_postgres {BENCH_VAR}/pg {self.args.pg_port}")
            subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.args.pg_port), "-U", "postgres", "-q", "-c",
                            "DROP DATABASE IF EXISTS berth_fleet_bench", "-c", "CREATE DATABASE berth_fleet_bench"],
                           check=True)
            os.environ["BERTH_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{self.args.pg_port}/berth_fleet_bench"
        shell(f"start_redis {BENCH_VAR}/redis {self.args.redis_port}")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        os.environ.update(
            BERTH_REDIS_URL=f"redis://127.0.0.1:{self.args.redis_port}/0", BERTH_VAR_DIR=str(self.tmp / "var"),
            BERTH_EXTERNAL_URL=self.url, BERTH_REGISTRY_URL=f"http://127.0.0.1:{free_port()}",
            BERTH_FLEET_HEARTBEAT_SECONDS="2",
            BERTH_FLEET_UNREACHABLE_AFTER="10", DJANGO_SETTINGS_MODULE="portal.settings", PYTHONUNBUFFERED="1",
        )  # fmt: skip
        os.environ.setdefault("BERTH_SECRET_KEY", secrets.token_urlsafe(40))
        import django

        django.setup()
        import logging

        logging.getLogger("httpx").setLevel(logging.WARNING)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)

    def start_portal_and_worker(self) -> None:
        bin_dir = Path(sys.executable).parent
        log = (self.tmp / "registry.log").open("wb")
        self.processes.append(subprocess.Popen(
            [sys.executable, "manage.py", "run_registry"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        ))  # fmt: skip
        log = (self.tmp / "server.log").open("wb")
        self.processes.append(subprocess.Popen(
            [sys.executable, "-m", "registry_proxy.server", "--bind", f"127.0.0.1:{self.port}", "--workers", "2"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        ))  # fmt: skip
        log = (self.tmp / "worker.log").open("wb")
        self.processes.append(subprocess.Popen(
            [str(bin_dir / "celery"), "-A", "portal", "worker", "-B", "-s", str(self.tmp / "beat"),
             "--pool=threads", "--concurrency=8",
             "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        ))  # fmt: skip
        import httpx

        def answers() -> bool:
            try:
                return httpx.get(f"{self.url}/api/v1/systeminfo", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait(answers, 120, "Berth's server", 0.1)

    def make_people(self) -> None:
        from portal.accounts.models import PersonalToken, User
        from portal.projects.models import Project
        from portal.utilities.secrets import display_prefix, hash_secret, new_secret

        admin = User.objects.create(username="bench-admin", is_admin=True)
        Project.objects.create(name="bench")
        self.token = new_secret("berth_pat")
        PersonalToken.objects.create(user=admin, name="bench", prefix=display_prefix(self.token),
                                     secret_hash=hash_secret(self.token))
        import httpx

        self.api = httpx.Client(base_url=f"{self.url}/api/v1", headers={"Authorization": f"Bearer {self.token}"},
                                timeout=60)

    def start_agents(self) -> None:
        from tests.fleet.agents import AgentProcess, free_port

        for n, name in enumerate(HOSTS):
            token = self.api.post("/hosts/join-tokens", json={}).json()["token"]
            state = self.tmp / name
            state.mkdir()
            agent = AgentProcess(state, free_port(), f"bb{os.getpid() % 10000}{n}", f"10.215.{n + 10}.0/24",
                                 self.tmp / f"{name}.log")
            token_file = self.tmp / f"{name}.token"
            token_file.write_text(token)
            agent.start("--join", self.url, "--token-file", str(token_file), "--name", name, "--advertise", agent.url)
            self.agents.append(agent)
        wait(lambda: [h["status"] for h in self.api.get("/hosts").json()["results"]] == ["online"] * len(HOSTS),
             30, "agents to join", 0.2)

    def push(self, repository: str, extra_bytes: int = 0) -> None:
        """Pushes busybox (plus a layer of random bytes) through Berth, which indexes it."""
        from tests.support.images import File, build_busybox_layout

        layers = [[File("payload", os.urandom(extra_bytes))]] if extra_bytes else []
        layout = build_busybox_layout(self.tmp / "layouts" / repository.replace("/", "_"), extra_layers=layers)
        subprocess.run(
            ["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
             "--dest-creds", f"bench-admin:{self.token}", f"oci:{layout}:latest",
             f"docker://127.0.0.1:{self.port}/{repository}:v1"],
            check=True, capture_output=True,
        )  # fmt: skip

    # -- measurements ----------------------------------------------------------------------------

    def deploy(self, repository: str, name: str, host: str | None = None) -> str:
        body: dict[str, Any] = {"repository": repository.split("/", 1)[1], "reference": "v1", "name": name, "command": ["sleep", "3600"]}
        if host:
            body["host"] = host
        response = self.api.post("/projects/bench/containers", json=body)
        if response.status_code != 202:
            raise RuntimeError(f"deploy refused: {response.text}")
        return str(response.json()["id"])

    def status(self, container_id: str) -> dict[str, Any]:
        return dict(self.api.get(f"/projects/bench/containers/{container_id}").json())

    def one(self, repository: str, name: str, host: str) -> dict[str, float]:
        posted = time.time()
        container_id = self.deploy(repository, name, host)
        answered = time.time()
        record = wait(lambda: (r := self.status(container_id))["status"] in ("running", "failed") and r, 120, name)
        observed = time.time()
        if record["status"] != "running":
            raise RuntimeError(f"{name} failed: {record['error']}")
        t = record["timings"]
        return {
            "total_ms": ms(observed - posted), "post_ms": ms(answered - posted), "queue_ms": ms(t["dequeued"] - t["requested"]),
            "prepare_ms": ms(t["task_started"] - t["dequeued"]), "pull_ms": ms(t["pulled"] - t["task_started"]), "create_ms": ms(t["created"] - t["pulled"]),
            "start_ms": ms(t["started"] - t["created"]), "observed_ms": ms(observed - t["started"]),
            "id": container_id,  # type: ignore[dict-item]
        }  # fmt: skip

    def remove_all(self) -> None:
        ids = [c["id"] for c in self.api.get("/projects/bench/containers", params={"page_size": 1000}).json()["results"]]
        for container_id in ids:
            self.api.delete(f"/projects/bench/containers/{container_id}")
        wait(lambda: self.api.get("/projects/bench/containers").json()["count"] == 0, 300, "containers to go", 0.2)

    def samples(self, cached: bool) -> list[dict[str, float]]:
        results = []
        for n in range(self.args.samples):
            host = HOSTS[n % len(HOSTS)]
            repository = "bench/busybox" if cached else f"bench/unique-{n}"
            if not cached:
                self.push(repository, extra_bytes=4 * 2**20)
            results.append(self.one(repository, f"{'cached' if cached else 'uncached'}-{n}", host))
        self.remove_all()
        return results

    def throughput(self) -> dict[str, Any]:
        count = self.args.deployments
        from concurrent.futures import ThreadPoolExecutor

        started = time.time()
        # Several clients at once, as a team's CI jobs would post them.
        with ThreadPoolExecutor(max_workers=self.args.clients) as pool:
            ids = list(pool.map(lambda n: self.deploy("bench/busybox", f"many-{n}"), range(count)))
        posted = time.time()

        def all_running() -> bool:
            listed = self.api.get("/projects/bench/containers", params={"page_size": 1000}).json()["results"]
            failed = [c for c in listed if c["status"] == "failed"]
            if failed:
                raise RuntimeError(f"{len(failed)} deployments failed, e.g. {failed[0]['error']}")
            return sum(c["status"] == "running" for c in listed) == count

        wait(all_running, 600, f"{count} deployments to run", 0.1)
        finished = time.time()
        listed = self.api.get("/projects/bench/containers", params={"page_size": 1000}).json()["results"]
        per_host = {h: sum(c["host"] == h for c in listed) for h in HOSTS}
        breakdowns = [self.status(i)["timings"] for i in ids[:: max(1, count // 20)]]
        self.remove_all()
        return {
            "deployments": count, "post_s": round(posted - started, 2), "all_running_s": round(finished - started, 2),
            "per_second": round(count / (finished - started), 1), "per_host": per_host,
            "median_queue_ms": ms(statistics.median(t["dequeued"] - t["requested"] for t in breakdowns)),
        }  # fmt: skip

    # -- teardown ----------------------------------------------------------------------------------

    def close(self, failed: bool = False) -> None:
        for agent in self.agents:
            leftovers = agent.clean_up()
            if leftovers:
                print(f"leftovers of {agent.state.name}: {leftovers}", file=sys.stderr)
        for process in self.processes:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        shell(f"stop_redis {BENCH_VAR}/redis {self.args.redis_port}")
        if self.args.stop_postgres:
            shell(f"stop_postgres {BENCH_VAR}/pg")
        if failed:
            print(f"logs kept in {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def summary(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = ("total_ms", "post_ms", "queue_ms", "prepare_ms", "pull_ms", "create_ms", "start_ms", "observed_ms")
    return {key: round(statistics.median(r[key] for r in rows), 1) for key in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients posting the deployments")
    parser.add_argument("--pg-port", type=int, default=55741)
    parser.add_argument("--redis-port", type=int, default=55742)
    parser.add_argument("--stop-postgres", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    bench = Bench(args)
    failed = True
    try:
        bench.start_services()
        bench.start_portal_and_worker()
        bench.make_people()
        bench.start_agents()
        bench.push("bench/busybox")
        uncached = bench.samples(cached=False)
        # Warm both agents with the shared image before the cached samples.
        for host in HOSTS:
            bench.one("bench/busybox", f"warm-{host}", host)
        bench.remove_all()
        cached = bench.samples(cached=True)
        many = bench.throughput()
        failed = False
    finally:
        bench.close(failed)
    report = {"uncached": summary(uncached), "cached": summary(cached), "throughput": many,
              "uncached_runs": uncached, "cached_runs": cached}
    print("\nFrom POST deploy to running (medians, ms):")
    print(f"{'':10}{'total':>9}{'POST':>9}{'queue':>9}{'prepare':>9}{'pull':>9}{'create':>9}{'start':>9}{'observed':>10}")
    for label in ("uncached", "cached"):
        s = report[label]
        print(f"{label:10}{s['total_ms']:>9}{s['post_ms']:>9}{s['queue_ms']:>9}{s['prepare_ms']:>9}{s['pull_ms']:>9}"
              f"{s['create_ms']:>9}{s['start_ms']:>9}{s['observed_ms']:>10}")
    print("POST: the API's answer (202); queue: POST recorded → a worker takes the task; prepare: lease + the agent's container list; "
          "observed: running → the client's next poll sees it")
    print(f"\n{many['deployments']} deployments ({args.clients} clients) over {len(HOSTS)} agents: all running after {many['all_running_s']} s "
          f"({many['per_second']}/s; posting took {many['post_s']} s; spread {many['per_host']}; "
          f"median queue {many['median_queue_ms']} ms)")
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (results / f"fleet-{stamp}.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
