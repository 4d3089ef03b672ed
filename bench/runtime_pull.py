"""Benchmark: pull + unpack of a multi-layer image from a local registry, Berth's ImageStore vs podman."""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime_agent.images import ImageStore  # noqa: E402
from tests.support.distribution import run_distribution  # noqa: E402
from tests.support.images import Entry, File, build_busybox_layout  # noqa: E402

PODMAN = "/usr/bin/podman"


def noisy_layer(seed: int, mib: int) -> list[Entry]:
    """`mib` files of 1 MiB that gzip to about half: random bytes interleaved with repeats."""
    rng = random.Random(seed)
    entries: list[Entry] = []
    for index in range(mib):
        blocks = []
        for _ in range(16):
            blocks.append(rng.randbytes(32 << 10))
            blocks.append(bytes([rng.randrange(256)]) * (32 << 10))
        entries.append(File(f"data/layer{seed}/file{index:03d}", b"".join(blocks)))
    entries += [File(f"data/layer{seed}/small/{i:04d}", rng.randbytes(2048)) for i in range(200)]
    return entries


def timed(action: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--layer-mib", type=int, default=40)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="berth-bench-pull-"))
    try:
        print(f"building {args.layers} layers of {args.layer_mib} MiB (gzip)...", flush=True)
        layout = build_busybox_layout(
            work / "layout",
            extra_layers=[noisy_layer(seed, args.layer_mib) for seed in range(args.layers)],
        )
        with run_distribution(work / "registry") as registry:
            reference = registry.push_layout(layout, "bench/pull", "1")
            wire = sum(p.stat().st_size for p in (registry.root / "data").rglob("data"))
            print(f"registry {registry.host}, {wire / (1 << 20):.0f} MiB of blobs", flush=True)
            store = ImageStore(work / "berth-state")
            podman = [
                PODMAN,
                "--root",
                str(work / "podman-root"),
                "--runroot",
                str(work / "podman-run"),
                "--storage-driver",
                "overlay",
            ]

            def berth_pull() -> None:
                store.pull(reference)

            def berth_clean() -> None:
                store.remove(reference)
                store.prune()

            def podman_pull() -> None:
                subprocess.run(
                    [*podman, "pull", "--quiet", "--tls-verify=false", reference],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )

            def podman_clean() -> None:
                subprocess.run(
                    [*podman, "rmi", "--all", "--force"], check=True, capture_output=True
                )

            # One warm-up each: podman initialises its store, Python imports what pulls use.
            for pull, clean in ((berth_pull, berth_clean), (podman_pull, podman_clean)):
                pull()
                clean()
            berth, podman_times = [], []
            for run in range(args.runs):
                berth.append(timed(berth_pull))
                berth_clean()
                podman_times.append(timed(podman_pull))
                podman_clean()
                print(
                    f"run {run + 1}: berth {berth[-1]:.3f}s  podman {podman_times[-1]:.3f}s",
                    flush=True,
                )
            subprocess.run([*podman, "system", "reset", "--force"], capture_output=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    berth_median, podman_median = statistics.median(berth), statistics.median(podman_times)
    print(f"median  berth ImageStore.pull {berth_median:.3f}s")
    print(f"median  podman pull           {podman_median:.3f}s")
    print(f"ratio   berth / podman        {berth_median / podman_median:.2f} (target <= 0.80)")


if __name__ == "__main__":
    main()
