"""A local Kubernetes control plane made of real binaries, on 127.0.0.1.

etcd -> kube-apiserver -> kube-controller-manager, kube-scheduler, kwok; then fake Nodes that
kwok keeps Ready, so Pods are scheduled and workloads roll out to Ready without containers.
The same code serves `gitops-runner cluster up` and the test suite's session fixture.
"""

from __future__ import annotations

import json
import shutil
import ssl
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from runner.controlplane import binaries, pki, processes
from runner.controlplane.processes import ProcessInfo
from runner.errors import RunnerError
from runner.kube.client import ApiError, KubeClient
from runner.kube.config import ClusterConfig

KWOK_STAGES = Path(__file__).parent / "kwok-stages.yaml"
STATE_FILE = "cluster.json"
# Started first, stopped last (kube-apiserver must outlive its clients).
START_ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


@dataclass
class ClusterState:
    """What `cluster up` leaves behind for `cluster env` and `cluster down` to find."""

    name: str
    directory: Path
    server: str
    kubeconfig: Path
    kubernetes_version: str
    processes: list[ProcessInfo] = field(default_factory=list)

    def save(self) -> None:
        data = asdict(self)
        data["directory"] = str(self.directory)
        data["kubeconfig"] = str(self.kubeconfig)
        data["processes"] = [{**asdict(p), "log_file": str(p.log_file)} for p in self.processes]
        (self.directory / STATE_FILE).write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> ClusterState:
        data = json.loads((directory / STATE_FILE).read_text())
        started = [ProcessInfo(p["name"], p["pid"], p["executable"], Path(p["log_file"]),
                               p["start_ticks"], tuple(p.get("args", ())))
                   for p in data["processes"]]
        return cls(data["name"], Path(data["directory"]), data["server"],
                   Path(data["kubeconfig"]), data["kubernetes_version"], started)


@dataclass(frozen=True)
class StartOptions:
    nodes: int = 2
    start_timeout: float = 60.0
    bin_dir: Path | None = None
    max_requests_inflight: int = 1000


class LocalCluster:
    """Start with `LocalCluster.start(directory)`; stop with `.stop()` (or use `with`)."""

    def __init__(self, state: ClusterState) -> None:
        self.state = state

    @property
    def kubeconfig(self) -> Path:
        return self.state.kubeconfig

    def cluster_config(self) -> ClusterConfig:
        return cluster_config_from_state(self.state)

    def client(self) -> KubeClient:
        return KubeClient(self.cluster_config())

    @classmethod
    def start(cls, directory: Path, name: str = "local", options: StartOptions | None = None,
              log: Callable[[str], None] = lambda _msg: None) -> LocalCluster:
        """Build or find the binaries, start every process, and return when the cluster works."""
        options = options or StartOptions()
        found = binaries.locate(options.bin_dir, log=log)
        directory.mkdir(parents=True, exist_ok=True)
        if (directory / STATE_FILE).exists():
            raise RunnerError(f"a cluster already runs from {directory}",
                              "stop it with `gitops-runner cluster down` first")
        cluster = cls(ClusterState(name, directory, "", directory / "kubeconfig",
                                   found.kubernetes_version))
        try:
            cluster._boot(found, options, log)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def stop(self) -> None:
        """Stop only the processes this cluster started, then remove its data directory."""
        for info in reversed(self.state.processes):
            processes.stop(info)
        shutil.rmtree(self.state.directory, ignore_errors=True)

    def kill(self, name: str) -> None:
        """Stop one process abruptly (SIGKILL), as a crash would; for fault tests."""
        info = self._process(name)
        processes.stop(info, grace_seconds=0)

    def restart(self, name: str, timeout: float = 60.0) -> None:
        """Start a stopped (or running) process again with its original arguments."""
        info = self._process(name)
        processes.stop(info)
        fresh = processes.start(name, Path(info.executable), list(info.args),
                                info.log_file.parent)
        self.state.processes[self.state.processes.index(info)] = fresh
        self.state.save()
        if name == "kube-apiserver":
            keys_dir = self.state.directory / "pki"
            config = self.cluster_config()
            processes.wait_until(
                fresh, lambda: _http_ok(f"{self.state.server}/readyz", keys_dir / "ca.crt",
                                        config.token), timeout, "/readyz")

    def _process(self, name: str) -> ProcessInfo:
        return next(p for p in self.state.processes if p.name == name)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _boot(self, found: binaries.Binaries, options: StartOptions,
              log: Callable[[str], None]) -> None:
        started = time.monotonic()
        directory = self.state.directory
        logs = directory / "logs"
        logs.mkdir(exist_ok=True)
        keys = pki.generate(directory / "pki")
        etcd_url = self._start_etcd(found, logs, options)
        self._start_apiserver(found, logs, keys, etcd_url, options)
        write_kubeconfig(self.state.kubeconfig, self.state.server, keys.ca_cert, keys.admin_token)
        self.state.save()
        self._start_controllers(found, logs, keys)
        client = self.client()
        create_fake_nodes(client, options.nodes)
        self._wait_for_controllers(client, options.start_timeout)
        self.state.save()
        log(f"cluster {self.state.name} ready in {time.monotonic() - started:.1f}s at "
            f"{self.state.server} (Kubernetes {self.state.kubernetes_version})")

    def _launch(self, found: binaries.Binaries, name: str, args: list[str],
                logs: Path) -> ProcessInfo:
        info = processes.start(name, found.path(name), args, logs)
        self.state.processes.append(info)
        self.state.save()
        return info

    def _start_etcd(self, found: binaries.Binaries, logs: Path, options: StartOptions) -> str:
        client_port, peer_port = processes.free_port(), processes.free_port()
        url = f"http://127.0.0.1:{client_port}"
        info = self._launch(found, "etcd", [
            f"--data-dir={self.state.directory / 'etcd'}",
            f"--listen-client-urls={url}", f"--advertise-client-urls={url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync", "--quota-backend-bytes=8589934592", "--log-level=warn",
        ], logs)
        processes.wait_until(info, lambda: _http_ok(f"{url}/health"), options.start_timeout,
                             f"{url}/health")
        return url

    def _start_apiserver(self, found: binaries.Binaries, logs: Path, keys: pki.ClusterPKI,
                         etcd_url: str, options: StartOptions) -> None:
        port = processes.free_port()
        self.state.server = f"https://127.0.0.1:{port}"
        inflight = options.max_requests_inflight
        info = self._launch(found, "kube-apiserver", [
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", f"--secure-port={port}", "--advertise-address=127.0.0.1",
            f"--tls-cert-file={keys.serving_cert}", f"--tls-private-key-file={keys.serving_key}",
            f"--client-ca-file={keys.ca_cert}",
            f"--service-account-key-file={keys.service_account_key}",
            f"--service-account-signing-key-file={keys.service_account_key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--authorization-mode=Node,RBAC", f"--token-auth-file={keys.token_file}",
            "--service-cluster-ip-range=10.0.0.0/16", "--allow-privileged=true",
            f"--max-requests-inflight={inflight}",
            f"--max-mutating-requests-inflight={inflight // 2}",
            "--enable-priority-and-fairness=false",
            f"--cert-dir={self.state.directory / 'pki'}",
        ], logs)
        ready_url = f"{self.state.server}/readyz"
        processes.wait_until(
            info, lambda: _http_ok(ready_url, keys.ca_cert, keys.admin_token),
            options.start_timeout, ready_url)

    def _start_controllers(self, found: binaries.Binaries, logs: Path,
                           keys: pki.ClusterPKI) -> None:
        kubeconfig = f"--kubeconfig={self.state.kubeconfig}"
        self._launch(found, "kube-controller-manager", [
            kubeconfig, f"--service-account-private-key-file={keys.service_account_key}",
            f"--root-ca-file={keys.ca_cert}", "--leader-elect=false", "--secure-port=0",
            "--use-service-account-credentials=false", "--concurrent-deployment-syncs=20",
            "--concurrent-replicaset-syncs=20", "--kube-api-qps=500", "--kube-api-burst=1000",
            # A busy 2-core machine can delay a Lease renewal; do not call a Node dead early.
            "--node-monitor-grace-period=2m",
        ], logs)
        self._launch(found, "kube-scheduler", [
            kubeconfig, "--leader-elect=false", "--secure-port=0",
            "--kube-api-qps=500", "--kube-api-burst=1000",
        ], logs)
        self._launch(found, "kwok", [
            kubeconfig, f"--config={KWOK_STAGES}", "--manage-all-nodes=true",
            "--server-address=127.0.0.1:0", "--cidr=10.244.0.0/16",
            # Node liveness comes from Leases that kwok renews; the heartbeat stage updates
            # node status only every 10 minutes, so without Leases the node controller marks
            # every Node NotReady (and every Pod unready) after its grace period.
            "--node-lease-duration-seconds=40",
            f"--node-ip=127.0.0.1",
        ], logs)

    def _wait_for_controllers(self, client: KubeClient, timeout: float) -> None:
        """The default ServiceAccount proves the controller-manager works (Pods need it);
        Ready Nodes prove kwok does."""
        checks: list[tuple[str, str, Callable[[], bool]]] = [
            ("kube-controller-manager", "ServiceAccount default/default",
             lambda: _exists(client, "/api/v1/namespaces/default/serviceaccounts/default")),
            ("kwok", "every fake Node Ready", lambda: _nodes_ready(client)),
        ]
        for name, what, ready in checks:
            info = next(p for p in self.state.processes if p.name == name)
            processes.wait_until(info, ready, timeout, what)
        scheduler = next(p for p in self.state.processes if p.name == "kube-scheduler")
        if not processes.is_running(scheduler):
            raise RunnerError(f"kube-scheduler exited:\n{processes.log_tail(scheduler)}")


def cluster_config_from_state(state: ClusterState) -> ClusterConfig:
    keys_dir = state.directory / "pki"
    token = (keys_dir / "tokens.csv").read_text().split(",", 1)[0]
    return ClusterConfig(server=state.server, ca_file=str(keys_dir / "ca.crt"), token=token,
                         context=state.name)


def write_kubeconfig(path: Path, server: str, ca_cert: Path, token: str) -> None:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "gitops-runner-local",
        "clusters": [{"name": "local",
                      "cluster": {"server": server, "certificate-authority": str(ca_cert)}}],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "gitops-runner-local",
                      "context": {"cluster": "local", "user": "admin"}}],
    }
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)


def create_fake_nodes(client: KubeClient, count: int) -> None:
    for index in range(count):
        node = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {
                "name": f"kwok-node-{index}",
                "annotations": {"kwok.x-k8s.io/node": "fake",
                                "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"type": "kwok", "kubernetes.io/hostname": f"kwok-node-{index}",
                           "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"},
            },
        }
        try:
            client.request("POST", "/api/v1/nodes", body=node)
        except ApiError as error:
            if error.status != 409:
                raise


def _nodes_ready(client: KubeClient) -> bool:
    nodes = client.get("/api/v1/nodes").get("items", [])
    return bool(nodes) and all(
        any(c.get("type") == "Ready" and c.get("status") == "True"
            for c in node.get("status", {}).get("conditions", []))
        for node in nodes)


def _exists(client: KubeClient, path: str) -> bool:
    return client.get_or_none(path) is not None


def _http_ok(url: str, ca_file: Path | None = None, token: str | None = None) -> bool:
    context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (OSError, ssl.SSLError):
        return False
