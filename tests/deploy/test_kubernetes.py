"""deploy/k8s, checked without a cluster: both overlays render (`kubectl kustomize`), every
object validates against the pinned Kubernetes schemas (kubernetes-validate, strict: unknown
fields are errors), and the invariants an operator relies on hold.

kubectl: the pinned one of scripts/install_kubectl.sh (.tools/kubectl) when present, else the
PATH's; scripts/test.sh installs the pinned one when there is none. Without either these
tests fail rather than skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
OVERLAYS = ("dev", "prod")
TRACING = "components/tracing"
"""The optional tracing component (an OpenTelemetry Collector), off in both overlays as
committed: every overlay is also rendered with it."""
OTLP_HTTP_PORT = 4318
PINNED_KUBECTL = ROOT / ".tools/kubectl/kubectl"
# The Kubernetes version the manifests are validated against (a minor kubernetes-validate
# ships schemas for); the oldest minor the manifests are meant for.
KUBERNETES_VERSION = "1.33.0"
APPS = ("master-data", "cart")
GRPC_PORT = 50051
# A tag that names a release, or a digest; never a moving tag such as `latest`.
PINNED_IMAGE = re.compile(r"[^:@\s]+(?::\d+\.\d+\.\d+)?(?:@sha256:[0-9a-f]{64})?")
# SIGTERM: drain (SHUTDOWN_DRAIN_SECONDS from the ConfigMap) + GRPC_SHUTDOWN_GRACE_SECONDS (5)
# + 5 s for HTTP requests in flight; and a margin on top.
GRACE_AFTER_DRAIN_SECONDS = 5 + 5
MARGIN_SECONDS = 5
SECRET_NAMES = re.compile(r"TOKEN|PASSWORD|SECRET|PRIVATE|CREDENTIAL|_KEY$|^KEY$", re.IGNORECASE)


def kubectl() -> str:
    if PINNED_KUBECTL.exists():
        return str(PINNED_KUBECTL)
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail(
            "no kubectl to render deploy/k8s with: run scripts/test.sh (it installs the pinned "
            "one with scripts/install_kubectl.sh), or install kubectl",
            pytrace=False,
        )
    return found


def render(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [document for document in yaml.safe_load_all(result.stdout) if document]


@dataclass(frozen=True)
class Rendered:
    overlay: str
    objects: list[dict[str, Any]]
    traced: bool = False
    """Rendered with the tracing component."""

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [o for o in self.of_kind(kind) if _base_name(o) == name]
        assert len(found) == 1, f"{self.overlay}: {kind}/{name} x {len(found)}"
        return found[0]

    @property
    def namespace(self) -> str:
        (namespace,) = self.of_kind("Namespace")
        return str(namespace["metadata"]["name"])


def _base_name(obj: dict[str, Any]) -> str:
    """The name without the hash suffix kustomize's generators add."""
    name = str(obj["metadata"]["name"])
    if obj["kind"] in ("ConfigMap", "Secret"):
        return re.sub(r"-[a-z0-9]{10}$", "", name)
    return name


def with_tracing(overlay: str, directory: Path) -> Path:
    """A copy of deploy/k8s under `directory` whose `overlay` lists the tracing component, as
    docs/deploy.md says to do; the overlay's folder in it."""
    copy = directory / "k8s"
    shutil.copytree(K8S, copy)
    kustomization = copy / "overlays" / overlay / "kustomization.yaml"
    text = kustomization.read_text()
    assert f"#   - ../../{TRACING}" in text, f"{overlay} does not show how to turn tracing on"
    kustomization.write_text(f"{text}\ncomponents:\n  - ../../{TRACING}\n")
    return copy / "overlays" / overlay


@pytest.fixture(scope="module", params=[*OVERLAYS, *(f"{overlay}+tracing" for overlay in OVERLAYS)])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    overlay, traced, _ = str(request.param).partition("+")
    if traced:
        directory = with_tracing(overlay, tmp_path_factory.mktemp(request.param))
        return Rendered(overlay, render(directory), traced=True)
    return Rendered(overlay, render(K8S / "overlays" / overlay))


@pytest.fixture(scope="module")
def prod() -> Rendered:
    return Rendered("prod", render(K8S / "overlays/prod"))


def _workloads(rendered: Rendered) -> Iterator[tuple[str, dict[str, Any]]]:
    for deployment in rendered.of_kind("Deployment"):
        yield deployment["metadata"]["name"], deployment["spec"]["template"]["spec"]


def _container(rendered: Rendered, app: str) -> dict[str, Any]:
    spec = rendered.get("Deployment", app)["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    return dict(container)


def _environment(rendered: Rendered, app: str) -> dict[str, str]:
    """The container's effective environment: its ConfigMaps, then `env` (which wins)."""
    container = _container(rendered, app)
    values: dict[str, str] = {}
    config_maps = {o["metadata"]["name"]: o for o in rendered.of_kind("ConfigMap")}
    for source in container.get("envFrom", []):
        values |= config_maps[source["configMapRef"]["name"]]["data"]
    for entry in container.get("env", []):
        values[entry["name"]] = entry["value"]
    return values


# --- renders, and validates against the schemas -------------------------------------------------


def test_kubectl_can_render_with_kustomize_5() -> None:
    output = subprocess.run(
        [kubectl(), "version", "--client"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Kustomize Version: v(\d+)\.", output)
    assert match, output
    assert int(match.group(1)) >= 5, output


def test_every_object_validates_against_the_pinned_schemas(rendered: Rendered) -> None:
    kinds = {o["kind"] for o in rendered.objects}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    assert {"NetworkPolicy", "Ingress", "ConfigMap", "Namespace", "ServiceAccount"} <= kinds
    for obj in rendered.objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_an_unknown_field(prod: Rendered) -> None:
    """Negative control: strict validation is on."""
    deployment = prod.get("Deployment", "cart")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_everything_lives_in_the_overlays_namespace(rendered: Rendered) -> None:
    expected = {"dev": "pos-dev", "prod": "pos"}[rendered.overlay]
    assert rendered.namespace == expected
    labels = rendered.of_kind("Namespace")[0]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in rendered.objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == expected, obj["metadata"]["name"]


# --- pods: probes, resources, security, time to drain -------------------------------------------


def _probe_path(probe: dict[str, Any]) -> str:
    """The path a probe asks: an HTTP GET, or the image's health check (mutual TLS)."""
    if "httpGet" in probe:
        return str(probe["httpGet"]["path"])
    command = probe["exec"]["command"]
    assert command[:3] == ["python", "-m", "pos_commons.healthcheck"], command
    return str(command[3])


def test_services_have_readiness_and_liveness_probes(rendered: Rendered) -> None:
    for app in APPS:
        container = _container(rendered, app)
        assert _probe_path(container["readinessProbe"]) == "/ready", app
        assert _probe_path(container["livenessProbe"]) == "/health", app
        assert _probe_path(container["startupProbe"]) == "/health", app
        # Not ready soon after SIGTERM's drain starts (503 SHUTTING_DOWN), well inside it.
        readiness = container["readinessProbe"]
        assert readiness["periodSeconds"] * readiness["failureThreshold"] <= 10, app
    for name, spec in _workloads(rendered):
        for container in spec["containers"]:
            assert "readinessProbe" in container, name
            assert "livenessProbe" in container, name


def test_every_container_has_requests_and_limits(rendered: Rendered) -> None:
    for name, spec in _workloads(rendered):
        for container in spec["containers"]:
            resources = container["resources"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= resources[bound].keys(), f"{name}: {bound}"


def test_every_pod_runs_restricted(rendered: Rendered) -> None:
    for name, spec in _workloads(rendered):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] != 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        assert not spec.get("hostNetwork"), name
        assert not spec.get("hostPID"), name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert not context.get("privileged"), name


def test_pods_get_more_time_to_stop_than_the_drain_needs(rendered: Rendered) -> None:
    for app in APPS:
        drain = float(_environment(rendered, app)["SHUTDOWN_DRAIN_SECONDS"])
        assert drain >= 5, f"{app}: endpoints need a few seconds to let go of a pod"
        spec = rendered.get("Deployment", app)["spec"]["template"]["spec"]
        needed = drain + GRACE_AFTER_DRAIN_SECONDS + MARGIN_SECONDS
        assert spec["terminationGracePeriodSeconds"] >= needed, app


def test_images_are_pinned(rendered: Rendered) -> None:
    for name, spec in _workloads(rendered):
        for container in spec["containers"]:
            image = container["image"]
            assert PINNED_IMAGE.fullmatch(image), f"{name}: {image}"
            assert re.search(r":\d+\.\d+\.\d+|@sha256:", image), f"{name}: unpinned {image}"
            assert container["imagePullPolicy"] == "IfNotPresent", name


def test_secrets_are_mounted_files_not_variables(rendered: Rendered) -> None:
    for app in APPS:
        container = _container(rendered, app)
        for entry in container.get("env", []):
            assert "valueFrom" not in entry, f"{app}: {entry['name']} from a secret variable"
        environment = _environment(rendered, app)
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        for setting in ("ADMIN_TOKEN", "SERVICE_TOKEN", "METRICS_TOKEN", "MONGODB_URI"):
            assert setting not in environment, f"{app}: {setting}"
            path = Path(environment[f"{setting}_FILE"])
            assert str(path.parent) in mounts, f"{app}: {path} is not on a mount"


def test_no_secret_in_a_config_map(rendered: Rendered) -> None:
    secret_values = {
        value
        for secret in rendered.of_kind("Secret")
        for value in (secret.get("data") or {}).values()
    }
    for config_map in rendered.of_kind("ConfigMap"):
        for key, value in config_map["data"].items():
            if not key.endswith("_FILE"):
                assert not SECRET_NAMES.search(key), f"{_base_name(config_map)}: {key}"
            assert not re.search(r"://[^/@\s]+:[^/@\s]+@", value), f"credentials in {key}"
            assert value not in secret_values, key


def test_prod_brings_no_secret_values(prod: Rendered) -> None:
    """Its Secrets are made in the cluster (docs/deploy.md), never rendered from the repo."""
    assert prod.of_kind("Secret") == []


# --- services, scaling, disruption ---------------------------------------------------------------


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _pod_labels(rendered: Rendered, app: str) -> dict[str, str]:
    labels: dict[str, str] = rendered.get("Deployment", app)["spec"]["template"]["metadata"][
        "labels"
    ]
    return labels


def test_grpc_service_is_headless_and_cart_dials_it_by_dns(rendered: Rendered) -> None:
    service = rendered.get("Service", "master-data-grpc")
    assert service["spec"]["clusterIP"] == "None"
    assert not service["spec"].get("publishNotReadyAddresses", False)
    assert [p["port"] for p in service["spec"]["ports"]] == [GRPC_PORT]
    assert _selects(service["spec"]["selector"], _pod_labels(rendered, "master-data"))
    target = _environment(rendered, "cart")["MASTER_DATA_GRPC_TARGET"]
    host = f"master-data-grpc.{rendered.namespace}.svc.cluster.local"
    assert target == f"dns:///{host}:{GRPC_PORT}"


def test_http_service_is_a_cluster_ip_cart_calls(rendered: Rendered) -> None:
    service = rendered.get("Service", "master-data")
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert service["spec"].get("clusterIP") != "None"
    assert _selects(service["spec"]["selector"], _pod_labels(rendered, "master-data"))
    url = _environment(rendered, "cart")["MASTER_DATA_URL"]
    host = f"master-data.{rendered.namespace}.svc.cluster.local"
    scheme = "https" if rendered.overlay == "prod" else "http"
    assert url == f"{scheme}://{host}:8002"


def test_every_service_has_an_autoscaler_and_a_disruption_budget(rendered: Rendered) -> None:
    for app in APPS:
        deployment = rendered.get("Deployment", app)
        assert "replicas" not in deployment["spec"], f"{app}: the autoscaler owns the count"
        autoscaler = rendered.get("HorizontalPodAutoscaler", app)
        assert autoscaler["spec"]["scaleTargetRef"]["name"] == app
        assert 1 <= autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]
        if rendered.overlay == "prod":
            assert autoscaler["spec"]["minReplicas"] >= 3, f"{app}: survive a lost zone/node"
        budget = rendered.get("PodDisruptionBudget", app)
        assert _selects(budget["spec"]["selector"]["matchLabels"], _pod_labels(rendered, app))
        assert budget["spec"]["maxUnavailable"] == 1


# --- network policies and the ingress ------------------------------------------------------------


def _policies_for(rendered: Rendered, app: str, direction: str) -> list[dict[str, Any]]:
    labels = _pod_labels(rendered, app)
    found = []
    for policy in rendered.of_kind("NetworkPolicy"):
        selector = policy["spec"]["podSelector"]
        expressions = selector.get("matchExpressions", [])
        if not _selects(selector.get("matchLabels", {}), labels):
            continue
        if not all(labels.get(e["key"]) in e["values"] for e in expressions):
            continue
        if direction in policy["spec"]["policyTypes"]:
            found.append(policy)
    return found


def _peers(policies: list[dict[str, Any]], direction: str) -> list[dict[str, Any]]:
    key, side = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    return [
        {"peer": peer, "ports": rule.get("ports", [])}
        for policy in policies
        for rule in policy["spec"].get(key, [])
        for peer in rule.get(side, [{}])
    ]


def test_default_deny_covers_both_services(rendered: Rendered) -> None:
    for app in APPS:
        for direction in ("Ingress", "Egress"):
            deny = [
                p
                for p in _policies_for(rendered, app, direction)
                if not p["spec"].get(direction.lower())
            ]
            assert deny, f"{app}: no default deny for {direction}"


def test_only_cart_reaches_master_data(rendered: Rendered) -> None:
    for allowed in _peers(_policies_for(rendered, "master-data", "Ingress"), "Ingress"):
        peer = allowed["peer"]
        if "podSelector" in peer and "namespaceSelector" not in peer:
            assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "cart"}
        else:  # Prometheus: the HTTP port only (where /metrics is)
            namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            assert namespace == "monitoring"
            assert [p["port"] for p in allowed["ports"]] == [8002]


def test_only_the_ingress_controller_reaches_cart(rendered: Rendered) -> None:
    namespaces = set()
    for allowed in _peers(_policies_for(rendered, "cart", "Ingress"), "Ingress"):
        assert set(allowed["peer"]) == {"namespaceSelector"}, allowed
        labels = allowed["peer"]["namespaceSelector"]["matchLabels"]
        namespaces.add(labels["kubernetes.io/metadata.name"])
        assert [p["port"] for p in allowed["ports"]] == [8003]
    assert namespaces == {"ingress-nginx", "monitoring"}


def test_cart_may_leave_for_master_data_mongodb_and_dns_only(rendered: Rendered) -> None:
    ports = set()
    for allowed in _peers(_policies_for(rendered, "cart", "Egress"), "Egress"):
        assert allowed["ports"], f"egress to every port: {allowed}"
        ports |= {p["port"] for p in allowed["ports"]}
    collector = {OTLP_HTTP_PORT} if rendered.traced else set()
    assert ports == {53, 8002, GRPC_PORT, 27017} | collector


def test_the_ingress_serves_cart_over_tls_only_for_terminal_routes(rendered: Rendered) -> None:
    ingress = rendered.get("Ingress", "cart")
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    tls_hosts = {host for entry in ingress["spec"]["tls"] for host in entry["hosts"]}
    assert hosts <= tls_hosts
    assert all(entry["secretName"] for entry in ingress["spec"]["tls"])
    paths = set()
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"]["name"] == "cart"
            paths.add(path["path"])
    assert paths == {"/api/v1/carts", "/api/v1/transactions"}  # no /metrics, no admin API


# --- the transport flag, TLS in prod, and the samples --------------------------------------------


def test_master_data_serves_both_transports_always(rendered: Rendered) -> None:
    assert _environment(rendered, "master-data")["USE_GRPC"] == "true"
    assert _environment(rendered, "cart")["USE_GRPC"] == "false"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_use_grpc_flips_by_editing_one_value(overlay: str, tmp_path: Path) -> None:
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    kustomization = copy / "overlays" / overlay / "kustomization.yaml"
    text = kustomization.read_text()
    assert text.count("- USE_GRPC=false") == 1
    kustomization.write_text(text.replace("- USE_GRPC=false", "- USE_GRPC=true"))
    flipped = Rendered(overlay, render(copy / "overlays" / overlay))
    assert _environment(flipped, "cart")["USE_GRPC"] == "true"
    assert _environment(flipped, "master-data")["USE_GRPC"] == "true"
    # cart's settings changed, so its ConfigMap's name (hash) did: its pods roll.
    original = Rendered(overlay, render(K8S / "overlays" / overlay))
    assert _container(flipped, "cart")["envFrom"] != _container(original, "cart")["envFrom"]
    assert _container(flipped, "master-data") == _container(original, "master-data")


def test_prod_speaks_mutual_tls_between_the_services(prod: Rendered) -> None:
    master_data = _environment(prod, "master-data")
    cart = _environment(prod, "cart")
    volumes = {
        app: {
            v["name"]: v.get("secret", {}).get("secretName")
            for v in prod.get("Deployment", app)["spec"]["template"]["spec"]["volumes"]
        }
        for app in APPS
    }
    assert volumes["master-data"]["tls"] == "master-data-tls"
    assert volumes["cart"]["tls"] == "cart-client-tls"
    assert {master_data[k] for k in ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CLIENT_CA_FILE")} == {
        "/run/secrets/tls/tls.crt", "/run/secrets/tls/tls.key", "/run/secrets/tls/ca.crt"
    }  # fmt: skip
    assert cart["MASTER_DATA_TLS_CA_FILE"] == "/run/secrets/tls/ca.crt"
    assert cart["MASTER_DATA_TLS_CERT_FILE"] == "/run/secrets/tls/tls.crt"
    assert cart["MASTER_DATA_TLS_KEY_FILE"] == "/run/secrets/tls/tls.key"
    # The kubelet cannot present a client certificate: master-data's probes are exec probes.
    container = _container(prod, "master-data")
    assert all("exec" in container[p] for p in ("readinessProbe", "livenessProbe"))


def _samples(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / "samples" / name).read_text()) if d]


def test_the_samples_make_the_secrets_prod_mounts(prod: Rendered) -> None:
    (mongodb,) = _samples("mongodb-community.yaml")
    assert mongodb["kind"] == "MongoDBCommunity"
    assert mongodb["spec"]["type"] == "ReplicaSet"
    assert mongodb["spec"]["members"] >= 3
    # One user per service; the operator writes each one's URI into the Secret that service
    # mounts, under the key the Deployments read (the standard, replica-set string).
    users = {user["connectionStringSecretName"]: user for user in mongodb["spec"]["users"]}
    for app in APPS:
        secret, key = _source_of(prod, app, "MONGODB_URI")
        assert key == "connectionString.standard", app
        assert secret in users, f"{app} mounts {secret}, which the sample does not make"
    assert len(users) == len(APPS)

    certificates = {
        c["spec"]["secretName"]: c
        for c in _samples("cert-manager.yaml")
        if c["kind"] == "Certificate"
    }
    served = certificates["master-data-tls"]
    assert set(served["spec"]["dnsNames"]) == {
        f"master-data.{prod.namespace}.svc.cluster.local",
        f"master-data-grpc.{prod.namespace}.svc.cluster.local",
    }
    assert {"server auth", "client auth"} <= set(served["spec"]["usages"])
    assert "client auth" in certificates["cart-client-tls"]["spec"]["usages"]
    for sample in (*_samples("mongodb-community.yaml"), *_samples("cert-manager.yaml")):
        assert sample["metadata"]["namespace"] == prod.namespace


# --- least privilege: each service mounts its own secrets only ---------------------------------

# The secret keys each service must be able to read, and those that are the other's alone.
OWN_SECRET_KEYS = {
    "master-data": {
        ("pos-tokens", "admin-token"),
        ("master-data-mongodb-uri", "connectionString.standard"),
    },
    "cart": {
        ("pos-tokens", "cart-admin-token"),
        ("cart-mongodb-uri", "connectionString.standard"),
    },
}
ROLES_FILE = ROOT / "deploy/mongo/roles.json"
WHOLE_SECRET = "*"


def _readable_secret_keys(rendered: Rendered, app: str) -> dict[str, tuple[str, str]]:
    """What the pod can read from Secrets: file path in the container -> (Secret, key); a
    volume that projects a whole Secret (no `items`) gives (Secret, "*") for its folder."""
    spec = rendered.get("Deployment", app)["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    readable: dict[str, tuple[str, str]] = {}
    for mount in container["volumeMounts"]:
        source = volumes[mount["name"]].get("secret")
        if source is None:
            continue
        name = re.sub(r"-[a-z0-9]{10}$", "", source["secretName"])  # a generator's hash
        items = source.get("items")
        if not items:
            readable[f"{mount['mountPath']}/{WHOLE_SECRET}"] = (name, WHOLE_SECRET)
            continue
        for item in items:
            readable[f"{mount['mountPath']}/{item['path']}"] = (name, item["key"])
    return readable


def _source_of(rendered: Rendered, app: str, setting: str) -> tuple[str, str]:
    """The (Secret, key) the file named by `<setting>_FILE` comes from."""
    path = _environment(rendered, app)[f"{setting}_FILE"]
    readable = _readable_secret_keys(rendered, app)
    assert path in readable, f"{app}: {setting}_FILE {path} is not a projected secret key"
    return readable[path]


def test_cart_mounts_its_own_admin_token_and_never_master_datas(rendered: Rendered) -> None:
    """cart (the internet-facing service) could rewrite master-data's catalog, prices and
    payment methods with master-data's admin token: it mounts cart-admin-token instead."""
    assert _source_of(rendered, "cart", "ADMIN_TOKEN") == ("pos-tokens", "cart-admin-token")
    assert _source_of(rendered, "master-data", "ADMIN_TOKEN") == ("pos-tokens", "admin-token")
    for app in APPS:
        readable = set(_readable_secret_keys(rendered, app).values())
        assert (("pos-tokens", WHOLE_SECRET)) not in readable, f"{app} mounts all of pos-tokens"
        for other in APPS:
            if other != app:
                assert not readable & OWN_SECRET_KEYS[other], f"{app} reads {other}'s secrets"


def test_each_service_connects_to_mongodb_as_its_own_user(rendered: Rendered) -> None:
    uris = {app: _source_of(rendered, app, "MONGODB_URI") for app in APPS}
    assert uris == {
        "cart": ("cart-mongodb-uri", "connectionString.standard"),
        "master-data": ("master-data-mongodb-uri", "connectionString.standard"),
    }


def test_the_mongodb_sample_has_the_roles_of_the_roles_file(prod: Rendered) -> None:
    """deploy/k8s/samples/mongodb-community.yaml carries deploy/mongo/roles.json's roles (what
    compose's init script reads), and gives each service's user its role and the Secret that
    service's Deployment mounts."""
    (mongodb,) = _samples("mongodb-community.yaml")
    roles_file = json.loads(ROLES_FILE.read_text())["users"]
    expected = [
        {
            "role": spec["role"],
            "db": "admin",
            "privileges": [
                {"resource": p["resource"], "actions": p["actions"]} for p in spec["privileges"]
            ],
            "roles": [],
        }
        for spec in roles_file.values()
    ]
    assert mongodb["spec"]["security"]["roles"] == expected
    users = {user["name"]: user for user in mongodb["spec"]["users"]}
    assert set(users) == set(roles_file)
    for name, spec in roles_file.items():
        user = users[name]
        assert user["db"] == "admin"
        assert user["roles"] == [{"name": spec["role"], "db": "admin"}], "its role alone"
        assert (
            _source_of(prod, spec["service"], "MONGODB_URI")[0]
            == (user["connectionStringSecretName"])
        )


def test_dev_admin_tokens_differ() -> None:
    dev = Rendered("dev", render(K8S / "overlays/dev"))
    tokens = dev.get("Secret", "pos-tokens")["data"]
    assert tokens["admin-token"] != tokens["cart-admin-token"]
    for app in APPS:
        for secret, key in _readable_secret_keys(dev, app).values():
            assert key in dev.get("Secret", secret)["data"], f"{app}: {secret} has no {key}"


def _documented_secret_keys(name: str) -> set[str]:
    """The keys docs/deploy.md's `kubectl create secret generic <name>` command creates."""
    text = (ROOT / "docs/deploy.md").read_text().replace("\\\n", " ")
    match = re.search(rf"create secret generic {re.escape(name)} ([^\n]*)", text)
    assert match, f"docs/deploy.md does not show how to create {name}"
    return set(re.findall(r"--from-literal=([\w.-]+)=", match.group(1)))


def test_prod_secrets_are_documented_with_every_key_mounted(prod: Rendered) -> None:
    """Every Secret key a prod pod reads is in the overlay's list and in the command of
    docs/deploy.md that makes it (a missing key keeps the pod from starting)."""
    comment = (K8S / "overlays/prod/kustomization.yaml").read_text()
    for app in APPS:
        for secret, key in _readable_secret_keys(prod, app).values():
            assert secret in comment, f"the prod overlay's comment does not list {secret}"
            if secret == "pos-tokens":
                assert key in _documented_secret_keys(secret), key
                assert key in comment, f"the prod overlay's comment does not list {key}"


# --- tracing, optional -----------------------------------------------------------------------


def test_tracing_is_off_unless_the_component_is_listed(rendered: Rendered) -> None:
    for app in APPS:
        environment = _environment(rendered, app)
        if not rendered.traced:
            assert not [name for name in environment if name.startswith("OTEL_")], app
            continue
        assert environment["OTEL_TRACES_EXPORTER"] == "otlp", app
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == (
            f"http://otel-collector:{OTLP_HTTP_PORT}"
        ), app
        assert environment["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio", app
        assert 0 < float(environment["OTEL_TRACES_SAMPLER_ARG"]) <= 1, app
        # The collector is reachable from the app, and answers on that port.
        egress = _peers(_policies_for(rendered, app, "Egress"), "Egress")
        assert any(
            peer["peer"].get("podSelector", {}).get("matchLabels")
            == {"app.kubernetes.io/name": "otel-collector"}
            and [p["port"] for p in peer["ports"]] == [OTLP_HTTP_PORT]
            for peer in egress
        ), app
    if not rendered.traced:
        assert not [o for o in rendered.objects if "otel-collector" in _base_name(o)]
        return
    service = rendered.get("Service", "otel-collector")
    assert [p["port"] for p in service["spec"]["ports"]] == [OTLP_HTTP_PORT]
    assert _selects(service["spec"]["selector"], _pod_labels(rendered, "otel-collector"))
    ingress = _peers(_policies_for(rendered, "otel-collector", "Ingress"), "Ingress")
    assert ingress
    assert all([p["port"] for p in i["ports"]] == [OTLP_HTTP_PORT] for i in ingress)
    config_map = next(
        o for o in rendered.of_kind("ConfigMap") if _base_name(o) == "otel-collector-config"
    )
    pipeline = yaml.safe_load(config_map["data"]["config.yaml"])
    traces = pipeline["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert set(traces["exporters"]) <= set(pipeline["exporters"])
    assert set(traces["processors"]) <= set(pipeline["processors"])
