"""The direct kubeconfig reader agrees with the official `kubernetes` package, and leaves
every kubeconfig it does not fully understand to it."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.kube import config
from runner.kube.config import ClusterConfig

CA, CERT, KEY = b"ca-bytes\n", b"cert-bytes\n", b"key-bytes\n"


def _kubeconfig(directory: Path, cluster: dict[str, Any], user: dict[str, Any],
                contexts: int = 1) -> Path:
    document = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c0",
        "clusters": [{"name": f"k{i}", "cluster": {**cluster, "server":
                                                    f"https://127.0.0.1:{6443 + i}/"}}
                     for i in range(contexts)],
        "users": [{"name": f"u{i}", "user": user} for i in range(contexts)],
        "contexts": [{"name": f"c{i}", "context": {"cluster": f"k{i}", "user": f"u{i}",
                                                   "namespace": "default"}}
                     for i in range(contexts)],
    }
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    return path


def _encoded(content: bytes) -> str:
    return base64.b64encode(content).decode()


def _comparable(settings: ClusterConfig) -> tuple[Any, ...]:
    """Files compared by content: both readers write inline data to temporary files."""
    def read(name: str | None) -> bytes | None:
        return Path(name).read_bytes() if name else None

    return (settings.server, read(settings.ca_file), settings.verify_tls,
            read(settings.client_cert_file), read(settings.client_key_file), settings.token,
            settings.context)


CASES = {
    "files": ({"certificate-authority": "ca.crt"},
              {"client-certificate": "client.crt", "client-key": "client.key"}),
    "inline data": ({"certificate-authority-data": _encoded(CA)},
                    {"client-certificate-data": _encoded(CERT),
                     "client-key-data": _encoded(KEY)}),
    "token": ({"certificate-authority-data": _encoded(CA)}, {"token": "s3cr3t"}),
    "token file": ({"certificate-authority": "ca.crt"}, {"tokenFile": "token"}),
    "insecure": ({"insecure-skip-tls-verify": True}, {"token": "s3cr3t"}),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("context", [None, "c1"])
def test_static_credentials_read_as_the_kubernetes_package_reads_them(
        tmp_path: Path, case: str, context: str | None) -> None:
    for name, content in (("ca.crt", CA), ("client.crt", CERT), ("client.key", KEY),
                          ("token", b"from-file\n")):
        (tmp_path / name).write_bytes(content)
    path = _kubeconfig(tmp_path, *CASES[case], contexts=2)
    direct = config._load_static(path, context)
    assert direct is not None
    assert _comparable(direct) == _comparable(config._load_with_library(str(path), context))
    assert _comparable(config.load(path, context)) == _comparable(direct)


@pytest.mark.parametrize("user", [
    {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "get-token"}},
    {"auth-provider": {"name": "oidc"}},
    {"username": "admin", "password": "secret"},
    {"token": "t", "as": "someone-else"},
])
def test_other_credentials_are_left_to_the_kubernetes_package(tmp_path: Path,
                                                              user: dict[str, Any]) -> None:
    path = _kubeconfig(tmp_path, {"insecure-skip-tls-verify": True}, user)
    assert config._load_static(path, None) is None


def test_an_unknown_context_is_reported_by_name(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, {"insecure-skip-tls-verify": True}, {"token": "t"})
    with pytest.raises(config.RunnerError, match="cannot read kubeconfig"):
        config.load(path, "missing")


def test_a_missing_token_file_is_reported_by_the_kubernetes_package(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, {"insecure-skip-tls-verify": True}, {"tokenFile": "absent"})
    assert config._load_static(path, None) is None
    with pytest.raises(config.RunnerError, match="cannot read kubeconfig"):
        config.load(path)
