#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The Kubernetes manifests of deploy/kubernetes/, without a cluster (no BPF,
# no root needed):
# - k8s_dry_run: `kubectl create --dry-run=client` takes them all. kubectl
#   maps kinds to resources through the API's discovery even in a client
#   dry run, so a stand-in answers discovery on 127.0.0.1
#   (tests/deploy/kube_discovery.py); without the server's OpenAPI schema,
#   validation is off (--validate=false): k8s_podman_translation refuses
#   any field it does not know instead;
# - k8s_configmap: the ConfigMap's abusewatch.yaml is data/default.yaml and
#   check-config accepts it;
# - k8s_daemonset: the pod has what the agent needs and no more: host PID;
#   the cgroup, BTF and BPF file systems; the configuration's textfile,
#   events log and state directories from the host at the same paths; the
#   node's name from the downward API as --hostname; requests and limits;
#   the capabilities of the systemd unit, all others dropped, unprivileged,
#   no privilege escalation, a read-only root; the image of this VERSION;
# - k8s_podman_translation: tests/deploy/pod2podman.py knows every field of
#   the pod (test_pkg_image.sh runs the image with what it makes of them).
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases k8s_dry_run k8s_configmap k8s_daemonset k8s_podman_translation
e2e_tmpdir || e2e_finish
# shellcheck disable=SC2119 # no tools needed, only the agent
e2e_require_build || e2e_finish

if ! command -v kubectl >/dev/null; then
	fail_all "kubectl is missing (Debian: kubernetes-client; scripts/install-deps installs it)"
	e2e_finish
fi
MANIFESTS=$E2E_REPO/deploy/kubernetes

python3 "$E2E_REPO/tests/deploy/kube_discovery.py" "$E2E_TMP/port" 2>"$E2E_TMP/discovery.log" &
DISCOVERY_PID=$!
on_cleanup kill "$DISCOVERY_PID"
for ((i = 0; i < 50; i++)); do
	[[ -s $E2E_TMP/port ]] && break
	sleep 0.1
done
if [[ ! -s $E2E_TMP/port ]]; then
	fail_all "the discovery stand-in did not start: $(tail -n 2 "$E2E_TMP/discovery.log")"
	e2e_finish
fi
# No kubeconfig of the machine's, no cache outside the test's directory.
kube() {
	KUBECONFIG=/dev/null HOME=$E2E_TMP kubectl --server="http://127.0.0.1:$(cat "$E2E_TMP/port")" \
		--cache-dir="$E2E_TMP/kube-cache" "$@"
}

names=$(kube create --dry-run=client --validate=false -f "$MANIFESTS" -o name 2>"$E2E_TMP/kubectl.err" | sort | tr '\n' ' ')
[[ $names == "configmap/abusewatch daemonset.apps/abusewatch namespace/abusewatch " ]]
check k8s_dry_run "$?" "kubectl create --dry-run=client: '$names' $(head -c 400 "$E2E_TMP/kubectl.err")"

JSON=$E2E_TMP/manifests.json
kube create --dry-run=client --validate=false -f "$MANIFESTS" -o json >"$JSON" 2>/dev/null

# The objects of kubectl's JSON output (one document after another) in Python.
objects_py='
import json, sys
def objects(path):
    text, decoder, at, found = open(path).read(), json.JSONDecoder(), 0, []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return found
        document, at = decoder.raw_decode(text, at)
        found += document.get("items", [document])
items = objects(sys.argv[1])
def one(kind):
    return [i for i in items if i["kind"] == kind][0]
'

python3 -c "$objects_py"'
sys.stdout.write(one("ConfigMap")["data"]["abusewatch.yaml"])' "$JSON" >"$E2E_TMP/abusewatch.yaml" 2>"$E2E_TMP/py.err"
if cmp -s "$E2E_TMP/abusewatch.yaml" "$E2E_REPO/data/default.yaml"; then
	out=$("$AW_BIN" check-config "$E2E_TMP/abusewatch.yaml" 2>&1)
	check k8s_configmap "$?" "check-config of the ConfigMap's abusewatch.yaml: $out"
else
	fail k8s_configmap "the ConfigMap's abusewatch.yaml differs from data/default.yaml (it is that file indented by four spaces: sed 's/^/    /'): $(diff "$E2E_TMP/abusewatch.yaml" "$E2E_REPO/data/default.yaml" | head -n 5 | tr '\n' ' ') $(cat "$E2E_TMP/py.err")"
fi

# The capabilities of the systemd unit, as Kubernetes names them.
unit_caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$E2E_REPO/deploy/systemd/abusewatch.service" |
	tr ' ' '\n' | sed 's/^CAP_//' | grep . | sort | tr '\n' ' ')
problems=$(python3 -c "$objects_py"'
import os
config, unit_caps, version = sys.argv[2], sys.argv[3].split(), sys.argv[4]
pod = one("DaemonSet")["spec"]["template"]["spec"]
c = pod["containers"][0]
problems = []
def want(ok, what):
    if not ok:
        problems.append(what)
volumes = {v["name"]: v for v in pod.get("volumes", [])}
mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
def host_path(mount_path):
    m = mounts.get(mount_path)
    v = volumes.get(m["name"]) if m else None
    return v.get("hostPath", {}).get("path") if v else None
values = {}
for line in open(config):
    key, _, value = line.strip().partition(": ")
    if key in ("textfile", "events_log", "state_dir"):
        values[key] = value
want(pod.get("hostPID") is True, "hostPID")
for path in ("/sys/fs/cgroup", "/sys/kernel/btf", "/sys/fs/bpf"):
    want(host_path(path) == path, "%s of the host at %s" % (path, path))
want(mounts.get("/sys/kernel/btf", {}).get("readOnly") is True, "BTF read-only")
want(not mounts.get("/sys/fs/bpf", {}).get("readOnly"), "bpffs writable (the probes are pinned there)")
for key, path in (("textfile", os.path.dirname(values["textfile"])),
                  ("events_log", os.path.dirname(values["events_log"])),
                  ("state_dir", values["state_dir"])):
    want(host_path(path) == path, "%s of the host at %s (agent.%s)" % (path, path, key))
env = {e["name"]: e for e in c.get("env", [])}
want(env.get("NODE_NAME", {}).get("valueFrom") == {"fieldRef": {"fieldPath": "spec.nodeName"}},
     "NODE_NAME from spec.nodeName")
args = c.get("args", [])
want("--hostname" in args and args[args.index("--hostname") + 1:][:1] == ["$(NODE_NAME)"],
     "--hostname $(NODE_NAME)")
want(args[:3] == ["run", "-c", "/etc/abusewatch/abusewatch.yaml"] and
     volumes.get(mounts.get("/etc/abusewatch", {}).get("name"), {}).get("configMap", {}).get("name") == "abusewatch",
     "run -c /etc/abusewatch/abusewatch.yaml from the ConfigMap")
r = c.get("resources", {})
for kind in ("requests", "limits"):
    want(set(r.get(kind, {})) == {"cpu", "memory"}, "%s of cpu and memory" % kind)
s = c.get("securityContext", {})
caps = s.get("capabilities", {})
want(caps.get("drop") == ["ALL"], "capabilities.drop [ALL]")
want(sorted(caps.get("add", [])) == sorted(unit_caps),
     "capabilities.add %s as the unit (%s)" % (sorted(caps.get("add", [])), " ".join(unit_caps)))
want(s.get("privileged") is not True, "not privileged")
want(s.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
want(s.get("readOnlyRootFilesystem") is True, "a read-only root")
want(c.get("image", "").endswith(":" + version), "the image of version %s" % version)
print("; ".join(problems))' "$JSON" "$E2E_TMP/abusewatch.yaml" "$unit_caps" "$(cat "$E2E_REPO/VERSION")" 2>&1)
[[ -z $problems ]]
check k8s_daemonset "$?" "the DaemonSet lacks: $problems"

translation=$(python3 "$E2E_REPO/tests/deploy/pod2podman.py" "$JSON" "$E2E_TMP/volumes" node-1 2>&1)
check k8s_podman_translation "$?" "$translation"

e2e_finish
