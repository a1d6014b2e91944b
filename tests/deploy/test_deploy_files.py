"""Deployment files: Dockerfile, deploy/compose.yaml, deploy/prometheus.yml and deploy/k8s/.

No docker engine or cluster is available where the tests run, so the files are checked statically
for what would break a deployment: they parse, the ports, probe paths and names agree across files,
every ``RAGLINE_`` variable is a real setting, and (once the server exists) the probe paths are
routes of the app.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from ragline.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
PROMETHEUS = DEPLOY / "prometheus.yml"
DOCS = ROOT / "docs" / "deployment.md"


# -- helpers -----------------------------------------------------------------------------------------


def load_yaml_docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def load_one(path: Path) -> dict[str, Any]:
    docs = load_yaml_docs(path)
    assert len(docs) == 1, f"{path} should hold exactly one document"
    assert isinstance(docs[0], dict)
    return docs[0]


def k8s_objects() -> list[dict[str, Any]]:
    return [d for p in sorted(K8S.glob("*.y*ml")) for d in load_yaml_docs(p)]


def k8s_one(kind: str) -> dict[str, Any]:
    found = [o for o in k8s_objects() if o.get("kind") == kind]
    assert len(found) == 1, f"expected one {kind} in deploy/k8s, found {len(found)}"
    return found[0]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.instructions if i == instruction]


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Stage]:
    """Instructions per build stage, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comment lines inside a continued instruction are ignored by docker too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    stages: list[Stage] = []
    for line in logical:
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        if instruction == "FROM":
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
            continue
        assert stages, f"instruction before FROM: {line!r}"
        stages[-1].instructions.append((instruction, rest))
    return stages


def exec_form(value: str) -> list[str]:
    """A CMD/HEALTHCHECK CMD argument: JSON exec form, or shell form split like a shell would."""
    value = value.strip()
    if value.startswith("["):
        parsed = json.loads(value)
        assert isinstance(parsed, list) and all(isinstance(x, str) for x in parsed)
        return parsed
    return shlex.split(value)


def dockerfile_env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in stage.args("ENV"):
        for token in shlex.split(rest):
            key, sep, value = token.partition("=")
            assert sep, f"use ENV KEY=VALUE, not the legacy form: {rest!r}"
            env[key] = value
    return env


def container_port(entry: Any) -> int:
    """The container side of a compose ``ports`` entry ("8000:8000", "127.0.0.1:8000:8000/tcp", ...)."""
    if isinstance(entry, dict):
        return int(entry["target"])
    return int(str(entry).split(":")[-1].split("/")[0])


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def compose_value(value: Any) -> str:
    """An environment value as compose passes it, with ``${VAR:-default}`` resolved to the default."""
    assert value is not None, "a compose environment variable without a value passes the host's value"
    if isinstance(value, bool):
        raise AssertionError(f"quote booleans in compose environments ({value!r}): compose rejects them")
    return _INTERPOLATION.sub(lambda m: m.group(2) or "", str(value))


def compose() -> dict[str, Any]:
    return load_one(COMPOSE)


def app_environment() -> dict[str, str]:
    env = compose()["services"]["app"].get("environment", {})
    if isinstance(env, list):  # the "KEY=VALUE" list form
        env = dict(item.split("=", 1) for item in env)
    return {k: compose_value(v) for k, v in env.items()}


def deployment_container() -> dict[str, Any]:
    containers = k8s_one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def resolve_port(port: int | str, container: dict[str, Any]) -> int:
    """A probe's or Service's port (number or port name) as the container port number."""
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    assert port in named, f"port name {port!r} is not a named port of the container ({sorted(named)})"
    return int(named[port])


# -- every YAML file parses ----------------------------------------------------------------------------


def test_every_yaml_file_under_deploy_parses() -> None:
    files = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert {COMPOSE, PROMETHEUS} <= set(files)
    assert {p.name for p in files if p.parent == K8S} >= {
        "namespace.yaml", "configmap.yaml", "secret.yaml", "deployment.yaml",
        "service.yaml", "hpa.yaml", "pvc.yaml",
    }  # fmt: skip
    for path in files:
        docs = load_yaml_docs(path)
        assert docs, f"{path} is empty"
        assert all(isinstance(d, dict) for d in docs), f"{path}: every document must be a mapping"


def test_k8s_objects_are_well_formed_and_share_one_namespace() -> None:
    objects = k8s_objects()
    for obj in objects:
        assert {"apiVersion", "kind", "metadata"} <= obj.keys(), obj
        assert obj["metadata"].get("name"), obj
    namespaces = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    assert len(namespaces) == 1
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == namespaces[0], obj["kind"]
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(
        ["Namespace", "ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler",
         "PersistentVolumeClaim"]
    )  # fmt: skip


# -- Dockerfile ----------------------------------------------------------------------------------------


def test_dockerfile_runtime_stage() -> None:
    stages = parse_dockerfile()
    assert stages and all(s.base == "python:3.11-slim" for s in stages)
    final = stages[-1]
    users = final.args("USER")
    assert users, "the runtime stage must switch to a non-root USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert "8000" in " ".join(final.args("EXPOSE")).replace("/tcp", "").split()
    assert final.args("CMD"), "no CMD"
    cmd = exec_form(final.args("CMD")[-1])
    assert cmd[:2] == ["ragline", "serve"]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--port") + 1] == "8000"
    env = dockerfile_env(final)
    assert env["RAGLINE_DATA_DIR"] == "/data"
    volumes = " ".join(final.args("VOLUME"))
    assert "/data" in (json.loads(volumes) if volumes.startswith("[") else volumes.split())


def test_dockerfile_healthcheck_hits_healthz_with_python() -> None:
    healthchecks = parse_dockerfile()[-1].args("HEALTHCHECK")
    assert len(healthchecks) == 1
    options, sep, command = healthchecks[0].partition("CMD ")
    assert sep, "HEALTHCHECK needs a CMD"
    argv = exec_form(command)
    # No curl or wget in python:3.11-slim: the check must run with the image's python.
    assert argv[0] in {"python", "python3"}
    assert "http://127.0.0.1:8000/healthz" in " ".join(argv)
    assert "--start-period" in options  # models load at start-up


def test_dockerfile_installs_the_extras_and_torch_pin_from_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = pyproject["project"]["optional-dependencies"]
    torch_pin = next(d for d in extras["export"] if d.startswith("torch"))
    runs = [r for s in parse_dockerfile() for r in s.args("RUN")]
    torch_runs = [r for r in runs if "download.pytorch.org/whl/cpu" in r]
    assert torch_runs, "torch must come from the CPU index, before the project is installed"
    assert torch_pin in torch_runs[0].split(), f"the Dockerfile's torch pin drifted from {torch_pin}"
    project_install = next(r for r in runs if re.search(r"pip install '?\.\[", r))
    assert runs.index(torch_runs[0]) < runs.index(project_install)
    wanted = re.search(r"\.\[([^\]]+)\]", project_install)
    assert wanted is not None
    # mcp: /mcp of serve; redis: the query cache shared by replicas
    assert set(wanted.group(1).split(",")) == {"export", "postgres", "otlp", "mcp", "redis"}
    assert set(wanted.group(1).split(",")) <= extras.keys()


def test_dockerignore_keeps_what_the_build_copies_and_drops_local_state() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)

    copied = []
    for stage in parse_dockerfile():
        for rest in stage.args("COPY"):
            words = [w for w in rest.split() if not w.startswith("--")]
            if "--from=" not in rest:
                copied += words[:-1]
    assert copied
    for src in copied:
        assert (ROOT / src).exists(), f"COPY {src}: no such file in the repository"
        assert not ignored(src), f"COPY {src} but .dockerignore excludes it"
    for local in (".venv", ".git", ".ragline", "ragline.toml"):
        assert ignored(local), f"{local} would be sent to the docker daemon / baked into the image"


# -- compose and prometheus ----------------------------------------------------------------------------


def test_compose_services_ports_and_dependencies() -> None:
    services = compose()["services"]
    assert {"app", "postgres", "prometheus"} <= services.keys()
    app = services["app"]
    assert 8000 in [container_port(p) for p in app["ports"]]
    build = app["build"]
    context = COMPOSE.parent / (build if isinstance(build, str) else build["context"])
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (context / dockerfile).resolve() == DOCKERFILE
    assert any(str(v).split(":")[1] == "/data" for v in app["volumes"])
    assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"]
    assert str(services["postgres"]["image"]).startswith("postgres:16")
    probe = " ".join(app["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz" in probe
    env = app_environment()
    assert env["RAGLINE_DATA_DIR"] == "/data"
    # The app's state URL points at the compose postgres service with its user, password and db.
    pg_env = services["postgres"]["environment"]
    user, password, db = (
        compose_value(pg_env[k]) for k in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")
    )
    assert env["RAGLINE_SERVER__STATE_URL"] == f"postgresql://{user}:{password}@postgres:5432/{db}"


def test_prometheus_scrapes_the_app_metrics_every_15s() -> None:
    config = load_one(PROMETHEUS)
    prom = compose()["services"]["prometheus"]
    mounted = {str(v).split(":")[1]: str(v).split(":")[0] for v in prom["volumes"]}
    host_file = mounted["/etc/prometheus/prometheus.yml"]
    assert (COMPOSE.parent / host_file).resolve() == PROMETHEUS
    assert 9090 in [container_port(p) for p in prom["ports"]]
    app_ports = [container_port(p) for p in compose()["services"]["app"]["ports"]]
    jobs = [
        job
        for job in config["scrape_configs"]
        for sc in job.get("static_configs", [])
        if any(t.split(":")[0] == "app" and int(t.split(":")[1]) in app_ports for t in sc["targets"])
    ]
    assert len(jobs) == 1, "exactly one job should scrape the compose app service"
    job = jobs[0]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job.get("scrape_interval", config.get("global", {}).get("scrape_interval")) == "15s"
    assert "app:8000" in job["static_configs"][0]["targets"]


# -- Kubernetes ----------------------------------------------------------------------------------------


def test_probes_use_the_container_port_the_service_targets_and_the_image_exposes() -> None:
    container = deployment_container()
    exposed = {
        int(p.split("/")[0]) for s in parse_dockerfile()[-1:] for e in s.args("EXPOSE") for p in e.split()
    }
    probes = {k: container[k] for k in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    service = k8s_one("Service")
    (svc_port,) = service["spec"]["ports"]
    target = resolve_port(svc_port["targetPort"], container)
    assert svc_port["port"] == 80 and service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert target == 8000 and target in exposed
    for name, probe in probes.items():
        assert resolve_port(probe["httpGet"]["port"], container) == target, name
    # Start-up (imports, connecting to PostgreSQL) needs time: allow at least a minute before liveness.
    startup = probes["startupProbe"]
    assert startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3) >= 60
    # If the manifest overrides the image's CMD, it must still serve on that port.
    argv = [*container.get("command", []), *container.get("args", [])]
    if argv:
        assert argv[:2] == ["ragline", "serve"] and argv[argv.index("--port") + 1] == str(target)
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == target


def test_service_selects_the_deployment_pods() -> None:
    deployment = k8s_one("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert k8s_one("Service")["spec"]["selector"].items() <= pod_labels.items()


def test_deployment_replicas_resources_env_and_volume() -> None:
    deployment = k8s_one("Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = deployment_container()
    resources = container["resources"]
    for key in ("cpu", "memory"):
        assert key in resources["requests"] and key in resources["limits"]
    assert resources["limits"]["cpu"] == "2" and resources["limits"]["memory"] == "4Gi"
    refs = {
        ("configMap" if "configMapRef" in e else "secret"): (e.get("configMapRef") or e["secretRef"])["name"]
        for e in container["envFrom"]
    }
    assert refs == {
        "configMap": k8s_one("ConfigMap")["metadata"]["name"],
        "secret": k8s_one("Secret")["metadata"]["name"],
    }
    data_mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/data")
    volume = next(v for v in pod["volumes"] if v["name"] == data_mount["name"])
    pvc = k8s_one("PersistentVolumeClaim")
    assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    # Every replica mounts the one data directory.
    assert "ReadWriteMany" in pvc["spec"]["accessModes"]
    assert k8s_one("ConfigMap")["data"]["RAGLINE_DATA_DIR"] == data_mount["mountPath"]


def test_hpa_targets_the_deployment() -> None:
    hpa = k8s_one("HorizontalPodAutoscaler")
    deployment = k8s_one("Deployment")
    assert hpa["apiVersion"] == "autoscaling/v2"
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["kind"], ref["name"], ref["apiVersion"]) == (
        deployment["kind"], deployment["metadata"]["name"], deployment["apiVersion"],
    )  # fmt: skip
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    # Utilization is relative to the request: without a CPU request the HPA cannot compute it.
    assert "cpu" in deployment_container()["resources"]["requests"]


def test_example_secret_is_marked_as_example_and_holds_a_postgres_state_url() -> None:
    text = (K8S / "secret.yaml").read_text(encoding="utf-8")
    assert "EXAMPLE" in text.upper().split("APIVERSION")[0]
    secret = k8s_one("Secret")
    url = secret["stringData"]["RAGLINE_SERVER__STATE_URL"]
    assert url.startswith("postgresql://") and "CHANGE-ME" in url


# -- every RAGLINE_ variable is a real setting ---------------------------------------------------------


def env_sources() -> dict[str, dict[str, str]]:
    return {
        "Dockerfile": {
            k: v for k, v in dockerfile_env(parse_dockerfile()[-1]).items() if k.startswith("RAGLINE_")
        },
        "deploy/compose.yaml": app_environment(),
        "deploy/k8s/configmap.yaml": {k: str(v) for k, v in k8s_one("ConfigMap")["data"].items()},
        "deploy/k8s/secret.yaml": {k: str(v) for k, v in k8s_one("Secret")["stringData"].items()},
    }


def _as_text(value: Any) -> Any:
    """A loaded setting in the form the environment spelled it, for comparison."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    return str(value)


@pytest.mark.parametrize(
    "source", ["Dockerfile", "deploy/compose.yaml", "deploy/k8s/configmap.yaml", "deploy/k8s/secret.yaml"]
)
def test_ragline_env_vars_are_real_settings(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: v for k, v in env_sources()[source].items() if k.startswith("RAGLINE_")}
    assert env, f"{source} sets no RAGLINE_ variables"
    monkeypatch.chdir(tmp_path)  # no ./ragline.toml
    for key in [k for k in os.environ if k.startswith("RAGLINE_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()  # nested unknown keys and bad values raise ConfigError
    for key, value in env.items():
        path = key.removeprefix("RAGLINE_").lower().split("__")
        assert path[0] in Settings.model_fields, f"{source}: {key} is not a ragline setting"
        node: Any = settings
        for part in path:
            assert hasattr(node, part), f"{source}: {key} is not a ragline setting"
            node = getattr(node, part)
        if isinstance(node, float):
            assert node == float(value), f"{source}: {key}={value!r} loaded as {node!r}"
            continue
        loaded = _as_text(node)
        expected = value.lower() if isinstance(node, bool) else value
        assert loaded == expected, f"{source}: {key}={value!r} loaded as {node!r}"


# -- the probe paths are real endpoints ----------------------------------------------------------------


def test_probe_and_metrics_paths_are_routes_of_the_app(tmp_path: Path) -> None:
    server_app = pytest.importorskip("ragline.server.app")
    app = server_app.create_app(load_settings(data_dir=tmp_path, server={"auth": False}))
    routes = {getattr(r, "path", None) for r in app.routes}
    container = deployment_container()
    used = {
        container["livenessProbe"]["httpGet"]["path"],
        container["readinessProbe"]["httpGet"]["path"],
        container["startupProbe"]["httpGet"]["path"],
        k8s_one("Service")["metadata"]["annotations"]["prometheus.io/path"],
        load_one(PROMETHEUS)["scrape_configs"][0].get("metrics_path", "/metrics"),
    }
    assert used == {"/healthz", "/readyz", "/metrics"}
    assert used <= routes, f"missing routes: {sorted(used - routes)}"


# -- docs ----------------------------------------------------------------------------------------------


def test_deployment_docs_explain_every_file_and_name_only_files_that_exist() -> None:
    text = DOCS.read_text(encoding="utf-8")
    mentioned = set(re.findall(r"(?<![\w/.-])((?:deploy|tests/deploy)/[\w/.-]*\.(?:ya?ml|py))", text))
    for rel in mentioned:
        assert (ROOT / rel).exists(), f"docs/deployment.md mentions {rel}, which does not exist"
    shipped = {p.relative_to(ROOT).as_posix() for p in DEPLOY.rglob("*") if p.is_file()}
    assert shipped <= mentioned, f"not described in docs/deployment.md: {sorted(shipped - mentioned)}"
    for command in (
        "docker build -t ragline .",
        "docker compose -f deploy/compose.yaml up",
        "kubectl apply -f deploy/k8s/",
    ):
        assert command in text, command


@pytest.mark.integration
def test_ops_endpoints_answer_without_an_api_key(tmp_path: Path) -> None:
    """Probes and the Prometheus scrape send no credentials, so they must work with auth on."""
    server_app = pytest.importorskip("ragline.server.app")
    from fastapi.testclient import TestClient

    settings = load_settings(data_dir=tmp_path / "data", server={"auth": True})
    assert settings.server.auth
    with TestClient(server_app.create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        # /readyz turns 200 once the background warm-up (the real model) is done. Waiting for it also
        # keeps the warm-up thread from outliving the test (ONNX Runtime aborts at interpreter exit).
        deadline = time.monotonic() + 120
        while (ready := client.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
            assert ready.status_code == 503, ready.text
            time.sleep(0.05)
        assert ready.status_code == 200, ready.text
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "# TYPE" in metrics.text
        # ...while the API itself does need a key, so the checks above are not vacuous.
        assert client.get("/v1/collections").status_code == 401
