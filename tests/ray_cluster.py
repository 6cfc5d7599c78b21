"""A Ray cluster of a head and worker nodes on 127.0.0.1, started as a user starts one (`ray start`), for the
ray engine's tests and benchmark. Set RAY_AUTH_* (see `auth_env`) before importing ray in the same process."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")


def auth_env() -> None:
    """A token for the test cluster, in this process's environment: Ray reads it when imported, the
    cluster's processes inherit it."""
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    os.environ.setdefault("RAY_AUTH_TOKEN", os.urandom(16).hex())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Ray {what} did not start in {seconds} s")
        time.sleep(0.5)


@contextlib.contextmanager
def local_cluster(workers: int = 1, cpus: int = 1, object_store_bytes: int = 300_000_000):
    """Yield the address of a head + `workers` nodes with `cpus` CPUs each; stop every process they started."""
    import ray

    port = _free_port()
    temp = Path(tempfile.mkdtemp(prefix="mmray-", dir="/tmp"))  # short: Ray's socket paths have a length limit
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}  # workers import the tests' tiny towers
    common = ["--block", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}", f"--object-store-memory={object_store_bytes}",
              "--disable-usage-stats"]
    start = lambda *args: subprocess.Popen([RAY, "start", *args, *common], env=env, stdout=subprocess.DEVNULL,  # noqa: E731
                                           stderr=subprocess.DEVNULL, start_new_session=True)
    nodes = [start("--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}")]
    address = f"127.0.0.1:{port}"
    try:
        _wait_for(lambda: subprocess.run([RAY, "status", f"--address={address}"], capture_output=True).returncode == 0, 90, "head")
        nodes += [start(f"--address={address}") for _ in range(workers)]
        ray.init(address=address, logging_level="WARNING", log_to_driver=False)
        _wait_for(lambda: ray.cluster_resources().get("CPU", 0) >= cpus * (1 + workers), 90, "worker nodes")
        yield address
    finally:
        ray.shutdown()
        for process in reversed(nodes):
            _signal_group(process, signal.SIGTERM)  # `ray start --block` stops its node's processes on SIGTERM
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process, signal.SIGKILL)  # whatever of the node is left
        shutil.rmtree(temp, ignore_errors=True)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:  # the whole group is gone already
        pass
