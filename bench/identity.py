"""Identity benchmark: sign-in latency through each source, and what group roles cost the project list.

- sign-in: `authenticate_credentials` for a local account (scrypt), and for an LDAP user against a real
  OpenLDAP (tests/support/openldap.py) with its bind and nested-group searches, then from the cache;
- groups: `GET /api/v1/projects?page_size=100` and `GET /api/v1/users/current/permissions` for a directory
  user in 50 groups that hold roles in 1,000 projects, beside a local user with 1,000 memberships of its own.
  Target: p95 under 50 ms.

    .venv/bin/python bench/identity.py [--rounds 40] [--pg-port 55510]

Starts a private PostgreSQL cluster (scripts/lib.sh start_postgres) in var/bench/identity-postgres and an
OpenLDAP in a temporary directory, and stops both at the end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATADIR = ROOT / "var" / "bench" / "identity-postgres"
PROJECTS, GROUPS = 1_000, 50
sys.path.insert(0, str(ROOT))

from bench.browse import measure, percentiles  # noqa: E402


@contextmanager
def postgres(port: int) -> Iterator[str]:
    lib = ROOT / "scripts" / "lib.sh"
    subprocess.run(["bash", "-c", f'source "{lib}" && start_postgres "{DATADIR}" {port}'], check=True)
    try:
        psql = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-qc"]
        subprocess.run([*psql, "DROP DATABASE IF EXISTS berth_identity_bench"], check=True)
        subprocess.run([*psql, "CREATE DATABASE berth_identity_bench"], check=True)
        yield f"postgres://postgres@127.0.0.1:{port}/berth_identity_bench"
    finally:
        subprocess.run(["bash", "-c", f'source "{lib}" && stop_postgres "{DATADIR}"'], check=False)


def seed(directory_url: str) -> dict[str, Any]:
    from portal.accounts import sources
    from portal.accounts.directory import LdapDirectory
    from portal.accounts.models import AuthSource, User, UserGroup
    from portal.projects.models import GroupMember, Member, Project
    from portal.utilities.encryption import encrypt
    from tests.support import openldap as ldap

    source = AuthSource.objects.create(kind="ldap", name="corp", encrypted_secret=encrypt(ldap.ADMIN_PASSWORD), settings={
        "urls": [directory_url], "bind_dn": ldap.ADMIN_DN, "user_search_base": ldap.PEOPLE, "group_search_base": ldap.GROUPS,
    })
    account = LdapDirectory(source).lookup("alice")
    assert account is not None
    directory_user = sources.sync_account(source, account)
    groups = [f"cn=team{index},{ldap.GROUPS}".lower() for index in range(GROUPS)]
    UserGroup.objects.bulk_create([UserGroup(user=directory_user, group=group) for group in groups])
    local = User.objects.create(username="bench-local")
    projects = Project.objects.bulk_create([Project(name=f"bench-{index:04d}") for index in range(PROJECTS)])
    roles = ["developer", "guest", "maintainer"]
    GroupMember.objects.bulk_create([
        GroupMember(project=project, source=source, group=groups[index % GROUPS], role=roles[index % 3])
        for index, project in enumerate(projects)
    ])
    Member.objects.bulk_create([Member(project=project, user=local, role=roles[index % 3]) for index, project in enumerate(projects)])
    return {"directory": directory_user, "local": local}


def time_calls(call: Callable[[], Any], rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--pg-port", type=int, default=55510)
    args = parser.parse_args()
    from tests.support import openldap as ldap

    with postgres(args.pg_port) as url, ldap.run_openldap() as directory:
        os.environ["BERTH_DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        os.environ.setdefault("BERTH_VAR_DIR", str(ROOT / "var" / "bench"))
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.test.utils import setup_test_environment
        from rest_framework.test import APIClient

        from portal.accounts.authentication import (
            authenticate_credentials,
            forget_verified_passwords,
        )
        from portal.rbac.principals import UserPrincipal

        setup_test_environment()
        settings.ALLOWED_HOSTS = ["testserver"]
        call_command("migrate", verbosity=0)
        seeded = seed(directory.url)
        seeded["local"].set_password(ldap.PASSWORD)
        seeded["local"].save()
        with django.db.connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

        def sign_in(username: str, cold: bool) -> Callable[[], Any]:
            def call() -> Any:
                if cold:
                    forget_verified_passwords()
                authenticate_credentials(username, ldap.PASSWORD, "127.0.0.1")
            return call

        print(f"{'sign-in':48} {'p50':>8} {'p95':>8}  (ms)")
        for name, call in [
            ("local account, scrypt", sign_in("bench-local", cold=True)),
            ("local account, remembered", sign_in("bench-local", cold=False)),
            ("LDAP: search, bind, nested groups, sync", sign_in("alice", cold=True)),
            ("LDAP: remembered (BERTH_LDAP_CACHE_SECONDS)", sign_in("alice", cold=False)),
        ]:
            call()
            p50, p95 = time_calls(call, args.rounds)
            print(f"{name:48} {p50:8.1f} {p95:8.1f}")
        # The benchmark's directory user is in 50 groups Berth stores; its sign-ins above refreshed them to
        # alice's real groups, so they are put back.
        from portal.accounts.models import UserGroup

        user = seeded["directory"]
        UserGroup.objects.filter(user=user).delete()
        UserGroup.objects.bulk_create([UserGroup(user=user, group=f"cn=team{index},{ldap.GROUPS}".lower())
                                       for index in range(GROUPS)])
        user.refresh_from_db()

        print(f"{'request':48} {'wall p50':>9} {'wall p95':>9} {'cpu p50':>8} {'cpu p95':>8} {'queries':>8}  (ms)")
        worst = 0.0
        for who, account in [("directory user in 50 groups", user), ("local user, 1,000 memberships", seeded["local"])]:
            client = APIClient()
            client.force_authenticate(user=UserPrincipal(account))
            for path in ["/api/v1/projects?page_size=100", "/api/v1/users/current/permissions"]:
                def call(path: str = path, client: APIClient = client) -> Any:
                    response = client.get(path)
                    assert response.status_code == 200, response.content[:300]
                    return response
                body = call().json()
                if "count" in body:
                    assert body["count"] == PROJECTS, body["count"]
                else:
                    assert len(body["projects"]) == PROJECTS, len(body["projects"])
                (wall50, wall95), (cpu50, cpu95), queries = measure(call, args.rounds)
                worst = max(worst, wall95)
                print(f"{who + ': ' + path.split('?')[0][8:]:48} {wall50:9.1f} {wall95:9.1f} {cpu50:8.1f} {cpu95:8.1f} {queries:8d}")
        print(f"worst p95 {worst:.1f} ms (target < 50 ms)")
        return 0 if worst < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
