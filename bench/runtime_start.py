"""Benchmark: create + start + wait + remove of /bin/true, Berth's Runtime vs runc vs crun."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime_agent import trace  # noqa: E402
from runtime_agent.container.spec import RunOptions  # noqa: E402
from runtime_agent.images import ImageStore  # noqa: E402
from runtime_agent.kernel import linux, seccomp  # noqa: E402
from runtime_agent.runtime.api import Runtime  # noqa: E402
from tests.support.images import build_busybox_layout  # noqa: E402


def oci_bundle(tool: str, rootfs: Path, dest: Path, cgroup: str, seccomp_filter: bool) -> Path:
    """A bundle from the tool's own default spec, running /bin/true on a copy of the same rootfs,
    its container's cgroup below ``cgroup`` (where the tool's CPU is counted); with
    ``seccomp_filter``, the filter Berth gives every container (the default spec has none)."""
    dest.mkdir()
    subprocess.run([tool, "spec"], cwd=dest, check=True)
    config = json.loads((dest / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["linux"]["cgroupsPath"] = f"/{cgroup}/container"
    if seccomp_filter:
        config["linux"]["seccomp"] = seccomp.oci_profile()
    (dest / "config.json").write_text(json.dumps(config))
    return dest


class CpuMeters:
    """One cpuacct cgroup per runtime measured, each holding everything that runtime runs (its
    CLI, its shims and helpers, its containers): work one leaves running in the background is
    counted as its own even while another runs."""

    def __init__(self, names: list[str]) -> None:
        self.top = f"berth-bench-{os.getpid()}"
        self.root = Path("/sys/fs/cgroup/cpuacct") / self.top
        self.available = self.root.parent.joinpath("cpuacct.usage").exists()
        if self.available:
            for name in names:
                (self.root / name).mkdir(parents=True)

    def cgroup(self, name: str) -> str:
        """The meter's path below each hierarchy's root."""
        return f"{self.top}/{name}"

    def enter(self, name: str) -> None:
        if self.available:
            (self.root / name / "cgroup.procs").write_text(str(os.getpid()))

    def read(self, name: str) -> int:
        return int((self.root / name / "cpuacct.usage").read_text()) if self.available else 0

    polling_cpu = (
        0  # ns this process spent in quiesce(), taken off Berth's figure (it is in its group)
    )

    def quiesce(self, timeout: float = 1.0) -> None:
        """Wait until nothing any runtime left running uses the CPU (Berth's shim finishing,
        its next standby being made): each run starts on a quiet host, none slowed by the
        work another put off. Polled every millisecond, so the CPUs never sit idle long
        enough to wake slowly (here a 50 ms pause doubled crun's next start)."""
        if not self.available:
            return
        usage = self.root / "cpuacct.usage"
        spent = time.thread_time_ns()
        deadline = time.monotonic() + timeout
        last, quiet = int(usage.read_text()), 0
        while quiet < 5 and time.monotonic() < deadline:
            time.sleep(0.001)
            now = int(usage.read_text())
            # This poll costs some tens of microseconds itself.
            quiet = quiet + 1 if now - last < 100_000 else 0
            last = now
        self.polling_cpu += time.thread_time_ns() - spent

    def close(self) -> None:
        if not self.available:
            return
        (self.root.parent / "cgroup.procs").write_text(str(os.getpid()))
        # Deepest first: the runtimes' container cgroups below the meters, in every hierarchy;
        # again for a while, as the last standby shims exit and remove their spares.
        deadline = time.monotonic() + 5
        while True:
            left = [
                h / self.top for h in Path("/sys/fs/cgroup").iterdir() if (h / self.top).is_dir()
            ]
            if not left or time.monotonic() > deadline:
                return
            for top in left:
                for path in sorted(top.rglob("*"), key=lambda p: -len(p.parts)):
                    with contextlib.suppress(OSError):
                        path.rmdir()
                with contextlib.suppress(OSError):
                    top.rmdir()
            time.sleep(0.05)


class ToolRunner:
    """A helper process in a runtime's meter cgroup that runs that runtime's command and times
    each run. With ``private_mounts`` it runs in a mount namespace of its own: crun refuses this
    hybrid cgroup layout unless cgroup2 at /sys/fs/cgroup/unified is out of sight."""

    # The bench's ends of earlier runners' pipes: a later runner must not hold them open.
    _bench_fds: list[int] = []

    def __init__(
        self, argv: Callable[[int], list[str]], meters: CpuMeters, name: str, private_mounts: bool
    ) -> None:
        self.cmd_r, self.cmd_w = os.pipe()
        self.res_r, self.res_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                for fd in (self.cmd_w, self.res_r, *self._bench_fds):
                    os.close(fd)
                meters.enter(name)
                if private_mounts:
                    os.unshare(linux.CLONE_NEWNS)
                    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
                    linux.umount2("/sys/fs/cgroup/unified", linux.MNT_DETACH)
                with os.fdopen(self.cmd_r) as commands:
                    for line in commands:
                        start = time.perf_counter()
                        subprocess.run(argv(int(line)), check=True)
                        os.write(self.res_w, f"{time.perf_counter() - start}\n".encode())
                code = 0
            finally:
                os._exit(code)
        os.close(self.cmd_r)
        os.close(self.res_w)
        self._bench_fds += [self.cmd_w, self.res_r]
        self.results = os.fdopen(self.res_r)

    def run(self, index: int) -> float:
        os.write(self.cmd_w, f"{index}\n".encode())
        return float(self.results.readline())

    def close(self) -> None:
        if self.cmd_w in self._bench_fds:
            self._bench_fds.remove(self.cmd_w)
            os.close(self.cmd_w)
            os.waitpid(self.pid, 0)


def print_trace(path: Path) -> None:
    """Median time and CPU from each mark to the one before it, over the measured starts."""
    events = sorted(
        (int(t), int(pid), int(cpu), name.strip())
        for t, pid, cpu, name in (line.split(None, 3) for line in path.read_text().splitlines())
    )
    runs: list[list[tuple[int, int, int, str]]] = []
    for event in events:
        if event[3] == "create":
            runs.append([])
        if runs:
            runs[-1].append(event)
    steps: dict[str, list[tuple[float, float, float]]] = {}
    for run in runs[1:]:  # the warm-up run is left out
        cpu_seen: dict[int, int] = {}
        previous = run[0][0]
        for t, pid, cpu, name in run:
            spent = (cpu - cpu_seen[pid]) / 1e6 if pid in cpu_seen else 0.0
            cpu_seen[pid] = cpu
            steps.setdefault(name, []).append(((t - previous) / 1e6, (t - run[0][0]) / 1e6, spent))
            previous = t
    print(
        f"start path, medians over {len(runs) - 1} starts (ms; cpu = that process since its last mark)"
    )
    for name, values in steps.items():
        delta, at, spent = (statistics.median(v[i] for v in values) for i in range(3))
        print(f"  {name:<28} +{delta:6.2f}   at {at:7.2f}   cpu {spent:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30, help="rounds of each protocol")
    parser.add_argument("--cli-runs", type=int, default=5, help="rounds with a CLI run")
    parser.add_argument(
        "--trace",
        metavar="FILE",
        help="write Berth's start-path marks (every process of a start) to FILE and print where "
        "the time goes",
    )
    parser.add_argument(
        "--dir", default="/var/lib", help="where the runs' files go (default: %(default)s)"
    )
    args = parser.parse_args()
    if args.trace:
        Path(args.trace).unlink(missing_ok=True)
        trace.enable(args.trace)
    # Beside the agent's default state directory (/var/lib/berth-agent) rather than in /tmp: on
    # this machine's ext4, creating a file or directory below /tmp costs about three times as
    # much as below /var/lib. All three runtimes keep their state and bundles here.
    work = Path(tempfile.mkdtemp(prefix="berth-bench-start-", dir=args.dir))
    # runc and crun run with Berth's seccomp filter, so that all three isolate alike;
    # crun-bare runs crun's own default spec, which has none.
    references = {"runc": ("runc", True), "crun": ("crun", True), "crun-bare": ("crun", False)}
    tools = ["berth", *references, "berth-cli"]
    meters = CpuMeters(tools)
    runners: list[ToolRunner] = []
    try:
        state = work / "berth-state"
        store = ImageStore(state)
        image = store.import_layout(
            build_busybox_layout(work / "layout"), tag="latest", name="busybox"
        )
        # This process is Berth's agent here: it, its shim helper and shims, and the
        # containers (in cgroups below it) are all counted under "berth".
        meters.enter("berth")
        runtime = Runtime(state, images=store, cgroup_root=f"{meters.cgroup('berth')}/containers")
        rootfs = work / "rootfs"
        shutil.copytree(image.layer_dirs[0], rootfs, symlinks=True)
        for mountpoint in ("proc", "dev", "sys"):
            (rootfs / mountpoint).mkdir(exist_ok=True)
        for name, (tool, seccomp_filter) in references.items():
            bundle = oci_bundle(
                tool, rootfs, work / f"{name}-bundle", meters.cgroup(name), seccomp_filter
            )
            runners.append(
                ToolRunner(
                    lambda i, tool=tool, name=name, bundle=bundle: [
                        tool,
                        "--root",
                        str(work / f"{name}-state"),
                        "run",
                        "-b",
                        str(bundle),
                        f"bench-{name}-{i}",
                    ],  # fmt: skip
                    meters,
                    name,
                    private_mounts=tool == "crun",
                )
            )
        options = RunOptions(command=["/bin/true"], network="none")

        def berth() -> float:
            start = time.perf_counter()
            container = runtime.create(image, options)
            runtime.start(container)
            code = runtime.wait(container)
            runtime.remove(container)
            assert code == 0
            return time.perf_counter() - start

        # An installed package has its bytecode compiled; this tree's environment may forbid
        # writing it, which would make every CLI run compile every module from source.
        env = {
            **os.environ,
            "BERTH_AGENT_STATE": str(state),
            "BERTH_CGROUP_ROOT": f"{meters.cgroup('berth-cli')}/containers",
            "PYTHONPYCACHEPREFIX": str(work / "pyc"),
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("BERTH_TRACE", None)

        def cli() -> float:
            start = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "runtime_agent",
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    "busybox",
                    "/bin/true",
                ],
                check=True,
                env=env,
                cwd=Path(__file__).resolve().parent.parent,
                preexec_fn=lambda: meters.enter("berth-cli"),
            )
            return time.perf_counter() - start

        # One warm-up each: the page cache, libseccomp's filter, Python's imports.
        berth(), cli()
        for runner in runners:
            runner.run(-1)
        # Two protocols, alternating round by round. Back to back: each run right after the
        # one before, so work a runtime puts off (Berth's shim unmounting after the exit, its
        # next standby being made) may slow whatever runs next. Quiet: each run waits until
        # no runtime uses the CPU, so none pays for another's deferred work.
        protocols = ("back-to-back", "quiet")
        times = {p: {name: [] for name in tools} for p in protocols}
        cpu_before = {name: meters.read(name) for name in tools}
        # Each round in its own order: a run's position after another (a busy runc, a cold
        # cache) weighs on every tool alike.
        shuffle = random.Random(0).shuffle
        order: list[tuple[str, Callable[[int], float]]] = [
            ("berth", lambda i: berth()),
            *((name, runner.run) for name, runner in zip(references, runners, strict=True)),
        ]
        for i in range(2 * args.runs):
            protocol = protocols[i % 2]
            shuffle(order)
            for name, run in order:
                if protocol == "quiet":
                    meters.quiesce()
                times[protocol][name].append(run(i))
            if i < 2 * args.cli_runs:
                if protocol == "quiet":
                    meters.quiesce()
                times[protocol]["berth-cli"].append(cli())
        runtime.close()
        for runner in runners:
            runner.close()
        time.sleep(0.2)  # the last runs' background work
        cpu = {name: meters.read(name) - cpu_before[name] for name in tools}
        cpu["berth"] -= meters.polling_cpu
        if args.trace:
            print_trace(Path(args.trace))
        starts = {name: sum(len(times[p][name]) for p in protocols) for name in tools}
        cpu_per_run = {name: cpu[name] / max(starts[name], 1) / 1e6 for name in tools}
        print(
            "container start (/bin/true: create + start + wait + remove); runc and crun with "
            "Berth's seccomp filter, crun-bare with crun's default spec (none); rounds in a "
            "shuffled order"
        )
        print(
            "  CPU per start (all protocols): "
            + ", ".join(f"{n} {cpu_per_run[n]:.2f} ms" for n in tools)
        )
        medians: dict[str, dict[str, float]] = {}
        for protocol in protocols:
            runs = times[protocol]
            medians[protocol] = {n: statistics.median(v) * 1000 for n, v in runs.items() if v}
            print(f"  {protocol}, {len(runs['berth'])} rounds:")
            for name, median in medians[protocol].items():
                print(
                    f"    {name:<10} median {median:7.2f} ms   min {min(runs[name]) * 1000:7.2f} ms"
                    f"   max {max(runs[name]) * 1000:7.2f} ms   ({len(runs[name])} runs)"
                )
            for other in references:
                print(
                    f"    berth / {other} = {medians[protocol]['berth'] / medians[protocol][other]:.2f}"
                    f" median, {cpu_per_run['berth'] / cpu_per_run[other]:.2f} CPU per start"
                )
            if "berth-cli" in medians[protocol]:
                print(
                    f"    berth-cli / runc = {medians[protocol]['berth-cli'] / medians[protocol]['runc']:.2f}"
                    " (interpreter start included)"
                )
        load = Path("/proc/loadavg").read_text().split()[0]
        print(f"  host load average while measuring: {load} ({os.cpu_count()} CPUs)")
        results = Path(__file__).resolve().parent / "results"
        results.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        (results / f"runtime-start-{stamp}.json").write_text(
            json.dumps({"medians_ms": medians, "cpu_ns": cpu, "runs": times})
        )
    finally:
        for runner in runners:
            runner.close()
        meters.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
