"""Connection settings for a cluster, read from a kubeconfig.

A kubeconfig with static credentials (CA, client certificate and key, token, token file; as
files or inline data) is read here directly. Anything else (exec plugins, auth providers,
basic auth, impersonation, proxies, several files in KUBECONFIG) is left to the official
`kubernetes` package, which handles every way users authenticate but takes a quarter of a
second to import: time every `apply`, `plan` and `drift` would pay before its first request.
tests/unit/kube/test_config.py checks both readers agree. Requests themselves go through our
own small client (`runner.kube.client`), which is much faster for bulk work.
"""

from __future__ import annotations

import atexit
import base64
import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runner.errors import RunnerError

# The keys the direct reader understands; any other key sends the file to `kubernetes`.
_CLUSTER_KEYS = frozenset({"server", "certificate-authority", "certificate-authority-data",
                           "insecure-skip-tls-verify", "extensions"})
_USER_KEYS = frozenset({"client-certificate", "client-certificate-data", "client-key",
                        "client-key-data", "token", "tokenFile", "extensions"})


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
    if os.pathsep not in path:
        found = _load_static(Path(first_file), context)
        if found is not None:
            return found
    return _load_with_library(path, context)


def _load_with_library(path: str, context: str | None) -> ClusterConfig:
    from kubernetes import client as k8s_client  # slow import: only when needed
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


def _load_static(path: Path, context: str | None) -> ClusterConfig | None:
    """The settings of `context` when they are static credentials; None otherwise (and
    when anything is off: the official reader then gives the precise error)."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        name = context or document.get("current-context") or ""
        selected = _named(document, "contexts", name, "context")
        cluster = _named(document, "clusters", selected.get("cluster"), "cluster")
        user = _named(document, "users", selected.get("user"), "user") \
            if selected.get("user") else {}
        if not cluster.get("server") or set(cluster) - _CLUSTER_KEYS \
                or set(user) - _USER_KEYS:
            return None
        return _static_config(cluster, user, path.parent, context or "")
    except (OSError, yaml.YAMLError, AttributeError, LookupError, TypeError, ValueError):
        return None


def _static_config(cluster: dict[str, Any], user: dict[str, Any], base: Path,
                   context: str) -> ClusterConfig:
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (base / str(user["tokenFile"])).read_text(encoding="utf-8").strip()
    return ClusterConfig(
        server=str(cluster["server"]).rstrip("/"),
        ca_file=_file_of(cluster, "certificate-authority", base),
        verify_tls=not cluster.get("insecure-skip-tls-verify", False),
        client_cert_file=_file_of(user, "client-certificate", base),
        client_key_file=_file_of(user, "client-key", base),
        token=str(token) if token else None,
        context=context,
    )


def _named(document: dict[str, Any], section: str, name: Any, field: str) -> dict[str, Any]:
    """The `field` mapping of the entry called `name` in `section` (KeyError if none)."""
    for entry in document.get(section) or []:
        if entry.get("name") == name:
            value = entry.get(field) or {}
            if not isinstance(value, dict):
                raise TypeError(f"{section}.{name}.{field} is not a mapping")
            return value
    raise KeyError(f"no {section} entry {name!r}")


def _file_of(entry: dict[str, Any], key: str, base: Path) -> str | None:
    """A credential's file: the path given (relative to the kubeconfig), or the inline
    `<key>-data` written to a private temporary file (TLS libraries read files)."""
    if entry.get(f"{key}-data"):
        return _private_file(base64.b64decode(entry[f"{key}-data"]))
    if entry.get(key):
        return str(base / str(entry[key]))
    return None


@functools.cache
def _private_directory() -> str:
    """A directory only we can read (mode 0700), removed when the process ends."""
    directory = tempfile.mkdtemp(prefix="gitops-runner-kube-")
    atexit.register(shutil.rmtree, directory, True)
    return directory


def _private_file(content: bytes) -> str:
    handle, name = tempfile.mkstemp(dir=_private_directory())
    with os.fdopen(handle, "wb") as file:  # mkstemp: mode 0600
        file.write(content)
    return name
