"""API benchmark: 10,000 projects, 50,000 members and 1,000 robots in PostgreSQL, served by gunicorn.

Measures p50/p95 latency of `GET /api/v1/projects?page_size=100` as a system admin and as a member of
50 projects (both signed in with a session), and of `GET /api/v1/users/current/permissions` with a
personal access token. Target: p95 under 50 ms.

    .venv/bin/python bench/api.py [--requests 300] [--pg-port 55731]

Uses BERTH_DATABASE_URL when given; otherwise starts a private PostgreSQL cluster under var/bench
(scripts/lib.sh start_postgres, needs root) and stops it at the end. Seeding runs once per database.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_VAR = ROOT / "var" / "bench"
PROJECTS, MEMBERS, ROBOTS = 10_000, 50_000, 1_000
OTHER_USERS = 4_999
MEMBER_PROJECTS = 50
MEMBERS_PER_PROJECT = MEMBERS // PROJECTS
PASSWORD = "Bench-Password-42"
TARGET_P95_MS = 50.0


def shell(command: str) -> None:
    subprocess.run(
        ["bash", "-c", f"source {ROOT}/scripts/lib.sh && {command}"], check=True, cwd=ROOT
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    from portal.utilities.env import database_from_url

    db = database_from_url(url)
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone()
        if not exists:
            connection.execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(db["NAME"])))
            )


def seed(again: bool = False) -> str:
    """Fills the database once (or `again`); returns a fresh personal access token of the benchmark member."""
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, transaction

    from portal.accounts.models import PersonalToken, User
    from portal.projects.models import Member, Project
    from portal.rbac.roles import ROLE_ORDER, Role
    from portal.robots.models import Robot, RobotPermission
    from portal.utilities.secrets import display_prefix, hash_secret, new_secret

    call_command("migrate", verbosity=0)
    if again or Project.objects.count() < PROJECTS:
        started = time.perf_counter()
        with transaction.atomic():
            Member.objects.all().delete()
            Robot.objects.all().delete()
            Project.objects.all().delete()
            User.objects.filter(username__startswith="bench-").delete()
            password = make_password(PASSWORD)
            admin = User.objects.create(username="bench-admin", is_admin=True, password=password)
            member = User.objects.create(username="bench-member", password=password)
            others = User.objects.bulk_create(
                [User(username=f"bench-user-{n:05d}", password="!") for n in range(OTHER_USERS)],
                batch_size=2000,
            )
            projects = Project.objects.bulk_create(
                [
                    Project(
                        name=f"project-{n:05d}",
                        public=n % 10 == 0,
                        owner=admin,
                        description=f"Project {n}",
                    )
                    for n in range(PROJECTS)
                ],
                batch_size=2000,
            )
            memberships = []
            for n, project in enumerate(projects):
                slots = MEMBERS_PER_PROJECT
                # The benchmark member takes one slot in each of its projects (spread over the range).
                if n % (PROJECTS // MEMBER_PROJECTS) == 1:
                    memberships.append(
                        Member(project=project, user=member, role=ROLE_ORDER[n % len(ROLE_ORDER)])
                    )
                    slots -= 1
                for k in range(slots):
                    user = others[(n * MEMBERS_PER_PROJECT + k) % OTHER_USERS]
                    role = Role.PROJECT_ADMIN if k == 0 else ROLE_ORDER[(n + k) % len(ROLE_ORDER)]
                    memberships.append(Member(project=project, user=user, role=role))
            Member.objects.bulk_create(memberships, batch_size=5000)
            system_robots = ROBOTS // 10
            robots = Robot.objects.bulk_create(
                [
                    Robot(
                        name=f"bench-{n:04d}",
                        project=None if n < system_robots else projects[n * 7],
                        secret_hash=hash_secret(new_secret("berth_robot")),
                        created_by=admin,
                    )
                    for n in range(ROBOTS)
                ],
                batch_size=2000,
            )
            RobotPermission.objects.bulk_create(
                [
                    RobotPermission(
                        robot=robot, project=robot.project, resource="repository", action=action
                    )
                    for robot in robots
                    for action in ("pull", "push")
                ],
                batch_size=5000,
            )
        print(
            f"seeded {Project.objects.count():,} projects, {Member.objects.count():,} members, "
            f"{Robot.objects.count():,} robots in {time.perf_counter() - started:.1f} s"
        )
    member = User.objects.get(username="bench-member")
    PersonalToken.objects.filter(user=member, name="bench").delete()
    secret = new_secret("berth_pat")
    PersonalToken.objects.create(
        user=member, name="bench", prefix=display_prefix(secret), secret_hash=hash_secret(secret)
    )
    # Fresh statistics, so the planner sees the seeded sizes rather than empty tables.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return secret


def start_server(env: dict[str, str], workers: int, kind: str) -> tuple[subprocess.Popen[Any], str]:
    import httpx

    port = free_port()
    bind = f"127.0.0.1:{port}"
    log = (BENCH_VAR / f"{kind}.log").open("wb")
    if kind == "gunicorn":
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            *("-c", "python:portal.system.gunicorn_conf", "portal.wsgi:application"),
            *("--bind", bind, "--workers", str(workers), "--threads", "4"),
            *("--worker-class", "gthread", "--log-level", "warning"),
        ]
    else:
        # What the production image runs: uvicorn with the API and /v2/ in one ASGI application.
        command = [
            sys.executable,
            "-m",
            "registry_proxy.server",
            "--bind",
            bind,
            "--workers",
            str(workers),
        ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/api/v1/systeminfo", timeout=1)
            return process, url
        except httpx.HTTPError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{kind} did not start; see {BENCH_VAR / f'{kind}.log'}")


def cpu_seconds(roots: list[int]) -> float:
    """CPU time (user + system) used so far by the processes `roots` and all their descendants."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        # utime + stime, plus cutime + cstime: what its exited children used (a backend that
        # disconnected still counts, through the postmaster that reaped it).
        used[pid] = sum(int(value) for value in fields[11:15]) / tick
    total, queue, seen = 0.0, list(roots), set()
    while queue:
        pid = queue.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += used.get(pid, 0.0)
        queue.extend(child for child, parent in parents.items() if parent == pid)
    return total


def measure(
    name: str,
    call: Callable[[], Any],
    requests: int,
    warmup: int,
    server: list[int],
    database: list[int],
) -> dict[str, Any]:
    for _ in range(warmup):
        call()
    timings = []
    server_cpu, database_cpu = cpu_seconds(server), cpu_seconds(database)
    for _ in range(requests):
        started = time.perf_counter()
        response = call()
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{name}: HTTP {response.status_code}: {response.text[:300]}")
    # CPU per request does not stretch while the process waits for a core, so on a busy machine
    # it tells what the latency would be on an idle one better than the wall-clock figures do.
    server_cpu = (cpu_seconds(server) - server_cpu) * 1000 / requests
    database_cpu = (cpu_seconds(database) - database_cpu) * 1000 / requests if database else None
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return {
        "scenario": name,
        "requests": requests,
        "p50_ms": round(cuts[49], 1),
        "p95_ms": round(cuts[94], 1),
        "max_ms": round(max(timings), 1),
        "server_cpu_ms": round(server_cpu, 1),
        "database_cpu_ms": None if database_cpu is None else round(database_cpu, 1),
        "count": response.json().get("count"),
    }


def postmaster_pids(data_dir: Path | None) -> list[int]:
    if data_dir is None:
        return []
    return [int((data_dir / "postmaster.pid").read_text().split()[0])]


def signed_in(url: str, username: str) -> Any:
    import httpx

    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="measured requests per scenario")
    parser.add_argument(
        "--warmup", type=int, default=30, help="unmeasured requests per scenario first"
    )
    parser.add_argument(
        "--pg-port", type=int, default=55731, help="port of the private PostgreSQL cluster"
    )
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--server",
        choices=["gunicorn", "berth"],
        default="gunicorn",
        help="gunicorn (WSGI) or registry_proxy.server (uvicorn, the production image's server)",
    )
    parser.add_argument(
        "--reseed", action="store_true", help="seed again even if the database is filled"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling priority change for the benchmark and everything it starts (negative needs "
        "root): on a machine busy with other work, approximates the figures of an idle one",
    )
    args = parser.parse_args()

    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    if args.nice:
        # Inherited by PostgreSQL (when started here), gunicorn and its workers.
        os.nice(args.nice)
    given = os.environ.get("BERTH_DATABASE_URL", "")
    own_cluster = not given.startswith("postgres")
    pg_dir = BENCH_VAR / "postgres"
    if own_cluster:
        shell(f"start_postgres {pg_dir} {args.pg_port}")
    db_url = (
        given if not own_cluster else f"postgres://postgres@127.0.0.1:{args.pg_port}/berth_bench"
    )
    env = dict(
        os.environ,
        BERTH_DATABASE_URL=db_url,
        BERTH_VAR_DIR=str(BENCH_VAR / "var"),
        DJANGO_SETTINGS_MODULE="portal.settings",
        BERTH_LOG_LEVEL="WARNING",
    )
    os.environ.update(env)
    server = None
    try:
        sys.path.insert(0, str(ROOT))
        ensure_database(db_url)
        import django

        django.setup()
        token = seed(again=args.reseed)
        from django.db import connections

        connections.close_all()
        server, url = start_server(env, args.workers, args.server)
        import httpx

        admin, member = signed_in(url, "bench-admin"), signed_in(url, "bench-member")
        by_token = httpx.Client(
            base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}
        )
        pids = {
            "server": [server.pid],
            "database": postmaster_pids(pg_dir if own_cluster else None),
        }
        results = [
            measure(
                "projects, page of 100, as admin",
                lambda: admin.get("/api/v1/projects?page_size=100"),
                args.requests,
                args.warmup,
                **pids,
            ),
            measure(
                "projects, page of 100, as member of 50",
                lambda: member.get("/api/v1/projects?page_size=100"),
                args.requests,
                args.warmup,
                **pids,
            ),
            measure(
                "current user's permissions, by token",
                lambda: by_token.get("/api/v1/users/current/permissions"),
                args.requests,
                args.warmup,
                **pids,
            ),
        ]
        load = os.getloadavg()
        print(
            f"\n{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
            f"(other work on the machine inflates these figures), server {args.server}, priority change {args.nice}"
        )
        print(
            f"{'scenario':40} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
            f"{'server CPU':>10} {'DB CPU':>7}  rows"
        )
        for row in results:
            verdict = "ok" if row["p95_ms"] < TARGET_P95_MS else f"MISSES {TARGET_P95_MS:g} ms"
            database_cpu = (
                "-" if row["database_cpu_ms"] is None else f"{row['database_cpu_ms']:.1f}"
            )
            print(
                f"{row['scenario']:40} {row['p50_ms']:7.1f} {row['p95_ms']:7.1f} {row['max_ms']:7.1f} "
                f"{row['server_cpu_ms']:10.1f} {database_cpu:>7}  "
                f"{row['count'] if row['count'] is not None else '-':>5}  {verdict}"
            )
        print(
            "(server and DB CPU: milliseconds of CPU time per request, summed over their processes)"
        )
        out = ROOT / "bench" / "results" / f"api-{time.strftime('%Y%m%dT%H%M%S')}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                {
                    "workers": args.workers,
                    "load_average": load,
                    "nice": args.nice,
                    "results": results,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"\nresults written to {out.relative_to(ROOT)}")
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            server.wait(30)
        if own_cluster:
            shell(f"stop_postgres {pg_dir}")


if __name__ == "__main__":
    main()
