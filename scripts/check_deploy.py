"""Structural checks of deploy/ that no off-the-shelf linter makes, run by scripts/check-deploy.

    check_deploy.py kubernetes RENDERED.yaml…   the output of `kubectl kustomize`, one file per overlay
    check_deploy.py compose RESOLVED.yaml       the output of `docker-compose config`
    check_deploy.py observability DIR OUT       the dashboard and alerts; writes the dashboard's queries as a
                                                Prometheus rule file to OUT, for `promtool check rules`

Each prints one line per finding and exits 1 if there is any.
"""

import json
import re
import sys
from pathlib import Path

import yaml

# Metric names as Pier exports them: read from PierMetric's catalogue, the one list the code itself renames through,
# so the dashboard and the alerts cannot name a metric that does not exist.
CATALOGUE = Path(__file__).resolve().parents[1] / "Sources/PierCore/Metrics/PierMetric.swift"
KNOWN_METRICS = set(re.findall(r'prometheus: "([a-z_]+)"', CATALOGUE.read_text()))
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")

# Secrets the manifests reference but do not contain: CloudNativePG creates pier-db-app and pier-db-ca; the README
# tells operators to create the others. A reference to any other Secret is a mistake.
EXTERNAL_SECRETS = {"pier-db-app", "pier-db-ca", "pier-signing-key", "pier-smtp", "pier-edge-tls", "pier-db-backup"}
# Kinds the built-in schemas of kubernetes-validate do not know; checked here instead.
CUSTOM_KINDS = {
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"),
    ("barmancloud.cnpg.io/v1", "ObjectStore"),
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}

findings = []


def report(where, message):
    findings.append(f"{where}: {message}")


def dig(value, *path, default=None):
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    return value


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_container(where, container, pod_security):
    name = f"{where} container {container.get('name')}"
    image = container.get("image", "")
    tag = image.rsplit("/", 1)[-1]
    if "@sha256:" not in image and (":" not in tag or tag.endswith(":latest")):
        report(name, f"image {image!r} is not pinned to a tag or digest")
    if "imagePullPolicy" not in container:
        report(name, "imagePullPolicy is not set")
    security = container.get("securityContext", {})

    def setting(key):
        return security.get(key, pod_security.get(key))

    if setting("runAsNonRoot") is not True:
        report(name, "runAsNonRoot is not true")
    if not isinstance(setting("runAsUser"), int) or setting("runAsUser") == 0:
        report(name, "runAsUser is not a fixed non-root UID")
    if security.get("readOnlyRootFilesystem") is not True:
        report(name, "readOnlyRootFilesystem is not true")
    if security.get("allowPrivilegeEscalation") is not False:
        report(name, "allowPrivilegeEscalation is not false")
    if "ALL" not in dig(security, "capabilities", "drop", default=[]):
        report(name, "capabilities do not drop ALL")
    if dig(security, "capabilities", "add"):
        report(name, "capabilities are added")
    if dig(security, "seccompProfile", "type", default=dig(pod_security, "seccompProfile", "type")) != "RuntimeDefault":
        report(name, "seccompProfile is not RuntimeDefault")
    if not dig(container, "resources", "requests") or not dig(container, "resources", "limits", "memory"):
        report(name, "resources need requests and a memory limit")
    if not any(m.get("mountPath") == "/tmp" for m in container.get("volumeMounts", [])):
        report(name, "/tmp is not a mounted volume (the root filesystem is read-only)")


def check_kubernetes(path):
    documents = [d for d in yaml.safe_load_all(open(path)) if d]
    by_kind = {}
    for document in documents:
        by_kind.setdefault(document["kind"], []).append(document)
    names = {(d["kind"], d["metadata"]["name"]) for d in documents}
    config_maps = {name for kind, name in names if kind == "ConfigMap"}
    pod_templates = []

    for document in documents:
        kind, name = document["kind"], document["metadata"]["name"]
        where = f"{path}: {kind}/{name}"
        if (document["apiVersion"], kind) in CUSTOM_KINDS:
            continue
        if document["apiVersion"].split("/")[0].endswith(".io") and "k8s.io" not in document["apiVersion"]:
            report(where, f"kind {document['apiVersion']} {kind} is checked by nothing")
        if kind in WORKLOAD_KINDS:
            template = document["spec"]["template"]
            pod_templates.append((where, kind, name, template))

    for where, kind, name, template in pod_templates:
        spec = template["spec"]
        labels = dig(template, "metadata", "labels", default={})
        if spec.get("automountServiceAccountToken") is not False:
            report(where, "automountServiceAccountToken is not false")
        pod_security = spec.get("securityContext", {})
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in spec.get("initContainers", []) + spec["containers"]:
            check_container(where, container, pod_security)
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    report(where, f"mounts the undefined volume {mount['name']}")
            for variable in container.get("env", []):
                source = variable.get("valueFrom", {})
                if "secretKeyRef" in source and source["secretKeyRef"]["name"] not in EXTERNAL_SECRETS:
                    report(where, f"env {variable['name']} names the unknown Secret {source['secretKeyRef']['name']}")
                if "configMapKeyRef" in source and source["configMapKeyRef"]["name"] not in config_maps:
                    report(where, f"env {variable['name']} names the missing ConfigMap {source['configMapKeyRef']['name']}")
            if kind != "Job" and container["name"] in ("edge", "board"):
                for probe in ("livenessProbe", "readinessProbe"):
                    if probe not in container:
                        report(where, f"container {container['name']} has no {probe}")
            if container["name"] == "board":
                paths = {dig(container, p, "httpGet", "path") for p in ("livenessProbe", "readinessProbe")}
                if paths != {"/healthz", "/readyz"}:
                    report(where, "the board's probes must be /healthz (liveness) and /readyz (readiness)")
        for volume in volumes.values():
            if "configMap" in volume and volume["configMap"]["name"] not in config_maps:
                report(where, f"volume {volume['name']} names the missing ConfigMap {volume['configMap']['name']}")
            if "secret" in volume and volume["secret"]["secretName"] not in EXTERNAL_SECRETS:
                report(where, f"volume {volume['name']} names the unknown Secret {volume['secret']['secretName']}")
        if kind == "Deployment":
            if not any(selects(dig(p, "spec", "selector", "matchLabels"), labels) for p in by_kind.get("PodDisruptionBudget", [])):
                report(where, "no PodDisruptionBudget selects its pods")
            if not any(selects(dig(p, "spec", "podSelector", "matchLabels"), labels) for p in by_kind.get("NetworkPolicy", [])):
                report(where, "no NetworkPolicy of its own selects its pods")

    if not any(dig(p, "spec", "podSelector") == {} and set(dig(p, "spec", "policyTypes", default=[])) == {"Ingress", "Egress"}
               and not dig(p, "spec", "ingress") and not dig(p, "spec", "egress") for p in by_kind.get("NetworkPolicy", [])):
        report(path, "there is no default-deny NetworkPolicy (all pods, Ingress and Egress, no rules)")
    for service in by_kind.get("Service", []):
        selector = dig(service, "spec", "selector", default={})
        if not any(selects(selector, dig(t, "metadata", "labels", default={})) for _, _, _, t in pod_templates):
            report(f"{path}: Service/{service['metadata']['name']}", "selects no pods")
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        target = dig(hpa, "spec", "scaleTargetRef", "name")
        if ("Deployment", target) not in names:
            report(f"{path}: HorizontalPodAutoscaler/{hpa['metadata']['name']}", f"scales the missing Deployment {target}")
        deployment = next(d for d in by_kind["Deployment"] if d["metadata"]["name"] == target)
        if "replicas" in deployment["spec"]:
            report(f"{path}: Deployment/{target}", "sets replicas although an autoscaler owns the number")

    # The custom kinds, by the fields their CRDs require and the references between them.
    object_stores = {d["metadata"]["name"] for d in by_kind.get("ObjectStore", [])}
    clusters = {}
    for cluster in by_kind.get("Cluster", []):
        where = f"{path}: Cluster/{cluster['metadata']['name']}"
        spec = cluster.get("spec", {})
        clusters[cluster["metadata"]["name"]] = spec
        if not isinstance(spec.get("instances"), int) or spec["instances"] < 1:
            report(where, "spec.instances must be a positive integer")
        if not dig(spec, "storage", "size"):
            report(where, "spec.storage.size is missing")
        if not re.fullmatch(r"[\w./-]+:\d+(\.\d+)?", spec.get("imageName", "")):
            report(where, "spec.imageName must be pinned to a PostgreSQL version")
        if dig(spec, "bootstrap", "initdb", "database") != "pier" or dig(spec, "bootstrap", "initdb", "owner") != "pier":
            report(where, "bootstrap.initdb must create the database pier owned by pier (the board's URL says so)")
        if "backup" in spec and "barmanObjectStore" in spec["backup"]:
            report(where, "spec.backup.barmanObjectStore is gone from current CloudNativePG: use the Barman Cloud plugin")
        for plugin in spec.get("plugins", []):
            store = dig(plugin, "parameters", "barmanObjectName")
            if plugin.get("name") == "barman-cloud.cloudnative-pg.io" and store not in object_stores:
                report(where, f"the Barman Cloud plugin names the missing ObjectStore {store}")
        for service in ("pier-db-rw",):
            if cluster["metadata"]["name"] != service.removesuffix("-rw"):
                report(where, f"the board connects to {service}, which this cluster does not create")
    for store in by_kind.get("ObjectStore", []):
        where = f"{path}: ObjectStore/{store['metadata']['name']}"
        if not dig(store, "spec", "configuration", "destinationPath"):
            report(where, "spec.configuration.destinationPath is missing")
        if not re.fullmatch(r"[1-9][0-9]*[dwm]", dig(store, "spec", "retentionPolicy", default="30d")):
            report(where, "spec.retentionPolicy must look like 30d, 4w or 3m")
        for key in ("accessKeyId", "secretAccessKey"):
            secret = dig(store, "spec", "configuration", "s3Credentials", key, "name")
            if secret not in EXTERNAL_SECRETS:
                report(where, f"s3Credentials.{key} names the unknown Secret {secret}")
    for backup in by_kind.get("ScheduledBackup", []):
        where = f"{path}: ScheduledBackup/{backup['metadata']['name']}"
        spec = backup.get("spec", {})
        if dig(spec, "cluster", "name") not in clusters:
            report(where, f"names the missing Cluster {dig(spec, 'cluster', 'name')}")
        if len(str(spec.get("schedule", "")).split()) != 6:
            report(where, "schedule needs six fields (CloudNativePG's cron has seconds first)")
        if spec.get("method") == "plugin":
            plugins = {p.get("name") for p in clusters.get(dig(spec, "cluster", "name"), {}).get("plugins", [])}
            if dig(spec, "pluginConfiguration", "name") not in plugins:
                report(where, "pluginConfiguration names a plugin its cluster does not use")
    print(f"{path}: {len(documents)} resources")


def check_compose(path):
    document = yaml.safe_load(open(path))
    services = document["services"]
    for name, service in services.items():
        where = f"{path}: service {name}"
        if service.get("read_only") is not True:
            report(where, "read_only is not true")
        if "ALL" not in service.get("cap_drop", []):
            report(where, "cap_drop does not include ALL")
        if service.get("cap_add"):
            report(where, "cap_add gives capabilities back")
        if "no-new-privileges:true" not in service.get("security_opt", []):
            report(where, "security_opt lacks no-new-privileges:true")
        if not dig(service, "healthcheck", "test"):
            report(where, "has no healthcheck")
        image = service.get("image", "")
        if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
            report(where, f"image {image!r} is not pinned to a tag")
        for dependency, condition in (service.get("depends_on") or {}).items():
            if dig(condition, "condition") != "service_healthy":
                report(where, f"depends on {dependency} without condition: service_healthy")
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|TOKEN|KEY", key) and not key.endswith("_FILE"):
                report(where, f"environment {key} looks like a secret given as a value: use secrets:")
            if isinstance(value, str) and re.search(r"://[^/@\s]+:[^/@\s]+@", value):
                report(where, f"environment {key} carries credentials in a URL")
        for item in service.get("command") or []:
            if re.search(r"://[^/@\s$]+:[^/@\s$]+@", str(item)):
                report(where, "the command carries credentials in a URL")
    for name, secret in (document.get("secrets") or {}).items():
        if "file" not in secret:
            report(f"{path}: secret {name}", "is not read from a file")
    print(f"{path}: {len(services)} services")


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
                "offset", "inf", "nan"}


def metrics_in(expression):
    """Metric names in a PromQL expression: what is left of the identifiers once strings, label matchers, ranges,
    grouping clauses, function names and keywords are taken out; histogram series count as their histogram."""
    text = re.sub(r'"(\\.|[^"\\])*"', '""', expression)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    found = set()
    for match in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in PROMQL_WORDS or re.fullmatch(r"\d+[smhdwy]", word):
            continue
        for suffix in HISTOGRAM_SUFFIXES:
            if word.endswith(suffix) and word.removesuffix(suffix) in KNOWN_METRICS:
                word = word.removesuffix(suffix)
        found.add(word)
    return found


def check_observability(directory, rules_out):
    dashboard_path = f"{directory}/grafana-dashboard.json"
    dashboard = json.load(open(dashboard_path))
    used = set()
    ids = set()
    rules = []
    for panel in dashboard["panels"]:
        where = f"{dashboard_path}: panel {panel.get('id')} {panel.get('title')!r}"
        if panel.get("id") in ids:
            report(where, "duplicate panel id")
        ids.add(panel.get("id"))
        grid = panel.get("gridPos", {})
        if grid.get("x", 0) + grid.get("w", 0) > 24:
            report(where, "is wider than the 24-column grid")
        if panel["type"] == "row":
            continue
        if dig(panel, "datasource", "uid") != "${datasource}":
            report(where, "does not use the $datasource variable")
        if not panel.get("targets"):
            report(where, "has no queries")
        for target in panel.get("targets", []):
            expression = target["expr"]
            names = metrics_in(expression)
            for name in names - KNOWN_METRICS:
                report(where, f"queries {name}, which Pier does not export")
            if not names:
                report(where, f"query {target['refId']} names no metric")
            used |= names
            concrete = expression.replace("$__rate_interval", "5m").replace("$edge_job", ".*").replace("$board_job", ".*")
            rules.append({"record": f"dashboard:panel_{panel['id']}_{target['refId'].lower()}", "expr": concrete})
    for name in sorted(KNOWN_METRICS - used):
        report(dashboard_path, f"no panel shows {name}")
    variables = {v["name"] for v in dig(dashboard, "templating", "list", default=[])}
    if not {"datasource", "edge_job", "board_job"} <= variables:
        report(dashboard_path, "the datasource, edge_job and board_job variables are missing")

    alerts_path = f"{directory}/alerts.yaml"
    alerts = yaml.safe_load(open(alerts_path))
    names = set()
    for group in alerts["groups"]:
        for rule in group["rules"]:
            where = f"{alerts_path}: {rule.get('alert')}"
            if dig(rule, "labels", "severity") not in ("warning", "critical"):
                report(where, "severity must be warning or critical")
            if not dig(rule, "annotations", "summary"):
                report(where, "has no summary")
            for name in metrics_in(rule["expr"]) - KNOWN_METRICS:
                report(where, f"uses {name}, which Pier does not export")
            names |= metrics_in(rule["expr"])
    for wanted, metric in (("certificate expiry", "pier_edge_certificate_expiry_seconds"),
                           ("upstream target down", "pier_edge_upstream_target_healthy"),
                           ("outbox backlog", "pier_board_outbox_backlog"),
                           ("5xx ratio", "http_server_request_duration_seconds")):
        if metric not in names:
            report(alerts_path, f"no alert on {wanted} ({metric})")
    with open(rules_out, "w") as out:
        yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, out, sort_keys=False)
    print(f"{dashboard_path}: {len(dashboard['panels'])} panels, {len(rules)} queries, metrics {len(used & KNOWN_METRICS)}/{len(KNOWN_METRICS)}")


def main(arguments):
    command, *paths = arguments
    if command == "kubernetes":
        for path in paths:
            check_kubernetes(path)
    elif command == "compose":
        check_compose(paths[0])
    elif command == "observability":
        check_observability(paths[0], paths[1])
    else:
        sys.exit(f"unknown check {command}")
    for finding in findings:
        print(finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
