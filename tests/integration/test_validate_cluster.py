"""The validate stage against the real local API server (Kubernetes v1.35.4).

1. `--kubeconfig` mode takes the cluster's schemas (OpenAPI v3 and its CRD objects) and its
   namespaces instead of the shipped ones.
2. The API server is the oracle for what a cluster accepts: for every object of
   tests/validate_corpus, our per-object verdict agrees with a server-side dry-run apply
   (the CRDs of the corpus and Flux's CRDs are installed first). Rules that a dry-run of
   one object cannot see are left out, each with its reason (CROSS_OBJECT_RULES).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from runner.controlplane.cluster import LocalCluster
from runner.kube.client import ApiError, KubeClient
from runner.kube.discovery import ResourceMapper, UnknownKind
from runner.validate import crd, engine, schemas
from runner.yamlfast import parse
from tests.unit.validate.conftest import CORPUS, expected_cases, run_cli

pytestmark = pytest.mark.cluster

CROSS_OBJECT_RULES = {
    "duplicate-object": "each object alone is fine; the conflict is between two applies",
    "duplicate-key": "the client sends JSON, which cannot hold a duplicate key",
    "namespace-missing": "-f mode only warns; the corpus uses namespaces that exist",
    "cluster-scoped-namespace": "the API server ignores metadata.namespace on cluster-scoped "
                                "kinds; we refuse it because the manifest is misleading",
}
CRD_URL = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGET_CRD = CORPUS / "valid/crd-and-resource.yaml"


def _wait_established(kube: KubeClient, name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        conditions = (kube.get(f"{CRD_URL}/{name}").get("status") or {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            return
        time.sleep(0.2)
    raise AssertionError(f"CRD {name} not Established")


def _install_crd(kube: KubeClient, manifest: dict[str, Any]) -> None:
    name = manifest["metadata"]["name"]
    kube.apply(f"{CRD_URL}/{name}", manifest, "validate-tests")
    _wait_established(kube, name)


def _corpus_crds() -> list[dict[str, Any]]:
    found = []
    for path in sorted(CORPUS.glob("*/*")):
        try:
            documents = parse(path.read_text(), str(path)).documents
        except Exception:
            continue
        found += [doc for _, doc in documents if isinstance(doc, dict) and crd.is_crd(doc)]
    return found


@pytest.fixture(scope="module")
def prepared(local_cluster: LocalCluster) -> LocalCluster:
    client = local_cluster.client()
    try:
        flux = sorted((schemas.schemas_root() / "flux").glob("flux-*.json"))[-1]
        for manifest in [*orjson.loads(flux.read_bytes())["crds"], *_corpus_crds()]:
            _install_crd(client, manifest)
        # Namespaces the corpus creates exist for real, as they would after the apply stage
        # put them first: a dry-run of a Namespace creates nothing.
        for path in sorted(CORPUS.glob("valid/*")):
            for document in _documents(path):
                if document.get("kind") == "Namespace":
                    name = document["metadata"]["name"]
                    client.apply(f"/api/v1/namespaces/{name}", document, "validate-tests")
    finally:
        client.close()
    return local_cluster


def _server_verdict(kube: KubeClient, mapper: ResourceMapper, manifest: dict[str, Any]) -> str:
    try:
        resource = mapper.resource_for(manifest["apiVersion"], manifest["kind"])
    except UnknownKind:
        return "invalid"
    metadata = manifest.get("metadata") or {}
    namespace = (metadata.get("namespace") or "default") if resource.namespaced else None
    try:
        kube.apply(resource.object_path(str(metadata.get("name")), namespace), manifest,
                   "validate-tests", dry_run=True)
    except ApiError as error:
        # Server-side apply reports unknown fields as a 500 "failed to create typed patch
        # object ... field not declared in schema" (apimachinery's typed conversion).
        if 400 <= error.status < 500 or "failed to create typed patch" in error.message:
            return "invalid"
        raise
    return "valid"


def test_verdicts_agree_with_server_side_dry_run(prepared: LocalCluster) -> None:
    kube = prepared.client()
    mapper = ResourceMapper(kube)
    compared = 0
    try:
        for case in sorted(expected_cases()):
            result = engine.validate_files([str(CORPUS / case)], engine.Options(workers=1))
            documents = _documents(CORPUS / case)
            for obj, manifest in zip(result.objects, documents, strict=True):
                rules = {f.rule for f in obj.findings if f.severity == "error"}
                if rules & set(CROSS_OBJECT_RULES) or not isinstance(manifest, dict) \
                        or "kind" not in manifest:
                    continue
                ours = "invalid" if rules else "valid"
                theirs = _server_verdict(kube, mapper, manifest)
                assert ours == theirs, f"{case} {obj.object}: ours {ours} ({rules}), " \
                                       f"API server {theirs}"
                compared += 1
    finally:
        kube.close()
    assert compared >= 20


def _documents(path: Path) -> list[Any]:
    try:
        documents = parse(path.read_text(), str(path)).documents
    except Exception:
        return []
    expanded = []
    for _, document in documents:
        expanded += engine._expand_lists(document)
    return expanded


def test_kubeconfig_mode_uses_the_cluster(prepared: LocalCluster, tmp_path: Path) -> None:
    """The Widget CRD exists only in the cluster here; namespaces come from the cluster."""
    widget = next(doc for doc in _documents(WIDGET_CRD) if doc["kind"] == "Widget")
    kube = prepared.client()
    try:
        kube.apply("/api/v1/namespaces/present", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": "present"}}, "tests")
    finally:
        kube.close()
    good = {**widget, "metadata": {"name": "w", "namespace": "present"}}
    bad = {**widget, "metadata": {"name": "w", "namespace": "absent"},
           "spec": {**widget["spec"], "minReplicas": 5}}
    (tmp_path / "good.yaml").write_bytes(orjson.dumps(good))
    (tmp_path / "bad.yaml").write_bytes(orjson.dumps(bad))
    kubeconfig = str(prepared.kubeconfig)
    assert run_cli("-f", str(tmp_path / "good.yaml")).exit_code == 1  # offline: no schema
    ok = run_cli("-f", str(tmp_path / "good.yaml"), "--kubeconfig", kubeconfig, "--summary")
    assert ok.exit_code == 0, ok.output
    failed = run_cli("-f", str(tmp_path / "bad.yaml"), "--kubeconfig", kubeconfig)
    assert failed.exit_code == 1
    assert "namespace 'absent' is not created by these manifests nor present in the " \
           "cluster" in failed.output
    assert "minReplicas must not exceed maxReplicas" in failed.output
