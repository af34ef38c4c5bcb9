"""The Kubernetes manifests (deploy/kubernetes/) validate offline against the Kubernetes API schemas
(kubernetes-validate), hold together (every Secret key they read exists, every manifest is in the kustomization,
the engine has its /dev/shm, every long-running container its probes), and the compose file's site profile runs
the same topology; the site config they all run validates."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from streamer.config.loader import parse_config_text

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "deploy" / "kubernetes"
KUBERNETES = "1.30.0"


def documents() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            found += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", [])


@pytest.mark.parametrize(("name", "doc"), documents(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_each_manifest_is_valid_kubernetes(name: str, doc: dict) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)  # unknown fields are errors too


def test_the_manifests_hold_together() -> None:
    docs = documents()
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in MANIFESTS.glob("*.yaml") if p.name not in ("kustomization.yaml", "secrets.example.yaml")
    )
    secret = next(doc for _, doc in docs if doc["kind"] == "Secret")
    workloads = {doc["metadata"]["name"]: doc for _, doc in docs if doc["kind"] in ("Deployment", "StatefulSet")}
    for name, workload in workloads.items():
        for container in containers(workload):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:  # every secret a container reads is one the Secret holds
                    assert ref["name"] == "streamer-secrets" and ref["key"] in secret["stringData"], (name, env)
            if container["image"].startswith("streamer") and "vlm-worker" not in container["args"]:
                assert "livenessProbe" in container and container["livenessProbe"]["httpGet"]["path"] == "/health"
    hosts = workloads["camera-host"]
    assert hosts["kind"] == "StatefulSet" and hosts["spec"]["replicas"] >= 3
    (host,) = containers(hosts)
    assert host["args"] == ["run", "--config", "/app/configs/site.yaml"]
    assert {"name": "STREAMER_NODE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in host["env"]
    shm = next(v for v in hosts["spec"]["template"]["spec"]["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"]["medium"] == "Memory" and any(m["mountPath"] == "/dev/shm" for m in host["volumeMounts"])
    assert (
        containers(workloads["streamer-serve"])[0]["args"][0] == "serve"
        and workloads["streamer-serve"]["spec"]["replicas"] >= 2
    )
    vllm = containers(workloads["vllm"])[0]
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_the_site_config_they_run_is_valid() -> None:
    text = (REPO / "configs" / "site.yaml").read_text()
    config = parse_config_text(
        text,
        "configs/site.yaml",
        REPO / "configs",
        environ={"STREAMER_NODE": "camera-host-0", "REDIS_PASSWORD": "r", "PG_PASSWORD": "p"},
    )
    assert config.site is not None and config.index.url.startswith("postgresql://streamer:p@postgres")
    assert str(config.storage_dir) == "/app/data/hosts/camera-host-0" and len(config.cameras) == 6


def test_the_compose_site_profile_is_three_hosts_serve_redis_and_postgres() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    site = {name: service for name, service in compose["services"].items() if "site" in service.get("profiles", [])}
    hosts = {name: service for name, service in site.items() if service.get("command", [None])[0] == "run"}
    assert len(hosts) == 3 and len({h["environment"]["STREAMER_NODE"] for h in hosts.values()}) == 3
    assert all(h["command"] == ["run", "--config", "/app/configs/site.yaml"] for h in hosts.values())
    assert len({h["volumes"][1] for h in hosts.values()}) == 3  # each host its own disk
    assert [s["command"][0] for n, s in site.items() if n not in hosts and "command" in s] == ["serve"]
    assert "postgres" in site and "redis" in compose["services"]
