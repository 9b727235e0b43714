"""Connection settings for a cluster, read from a kubeconfig.

The official `kubernetes` package reads the kubeconfig, because it already handles every way
users authenticate (client certificates, tokens, exec plugins, OIDC). Requests themselves go
through our own small client (`runner.kube.client`), which is much faster for bulk work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runner.errors import RunnerError


@dataclass(frozen=True)
class ClusterConfig:
    """Where the API server is and how to authenticate to it. `repr` never shows the token."""

    server: str
    ca_file: str | None = None
    verify_tls: bool = True
    client_cert_file: str | None = None
    client_key_file: str | None = None
    token: str | None = None
    context: str = ""

    def __repr__(self) -> str:
        return f"ClusterConfig(server={self.server!r}, context={self.context!r})"


def load(kubeconfig: str | Path | None = None, context: str | None = None) -> ClusterConfig:
    """Read `kubeconfig` (default: $KUBECONFIG, then ~/.kube/config) for `context`."""
    path = str(kubeconfig) if kubeconfig else os.environ.get("KUBECONFIG", "")
    if not path:
        path = str(Path.home() / ".kube" / "config")
    first_file = path.split(os.pathsep)[0]
    if not Path(first_file).is_file():
        raise RunnerError(
            f"kubeconfig {first_file} does not exist",
            "pass --kubeconfig, set KUBECONFIG, or start a local cluster with "
            "`gitops-runner cluster up`",
        )
    from kubernetes import client as k8s_client  # slow import: only when a cluster is used
    from kubernetes import config as k8s_config

    settings = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, context=context,
            client_configuration=settings)
    except Exception as error:  # the loader raises many unrelated types
        raise RunnerError(f"cannot read kubeconfig {path}: {error}",
                          "check the file and the --context name") from error
    return _from_settings(settings, context or "")


def _from_settings(settings: object, context: str) -> ClusterConfig:
    api_key: dict[str, str] = getattr(settings, "api_key", {}) or {}
    authorization = api_key.get("authorization") or api_key.get("BearerToken") or ""
    token = authorization.removeprefix("Bearer ").strip() or None
    return ClusterConfig(
        server=str(getattr(settings, "host", "")).rstrip("/"),
        ca_file=getattr(settings, "ssl_ca_cert", None),
        verify_tls=bool(getattr(settings, "verify_ssl", True)),
        client_cert_file=getattr(settings, "cert_file", None),
        client_key_file=getattr(settings, "key_file", None),
        token=token,
        context=context,
    )
