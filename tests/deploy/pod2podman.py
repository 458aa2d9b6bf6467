#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
pod2podman.py MANIFESTS.json VOLUME_ROOT NODE_NAME: how to run the DaemonSet
of MANIFESTS.json (what `kubectl create --dry-run=client -o json -f
deploy/kubernetes/` prints) with podman as a kubelet would run its pod on
this node. Prints a JSON object: "args", the `podman run` arguments (the
image and its arguments last), and "mounts", each mount path in the
container with the directory of this host behind it.

Every field of the pod and its container is either carried over or known
to mean nothing here (tolerations: scheduling); any other field stops the
translation with an error, so that the test never runs something else than
the manifest says. What is carried over:
- hostPID, the container's image (never pulled), command and args (with
  $(VAR) expanded from its env), env (values, and the downward API's
  spec.nodeName as NODE_NAME), resources (limits and requests),
  securityContext (user, privileged, no new privileges, read-only root,
  capabilities, seccomp and AppArmor profiles), terminationGracePeriodSeconds;
- volumes: a configMap becomes a directory under VOLUME_ROOT with one file a
  key; a hostPath of type Directory is the host's own (the cgroup, BTF and
  BPF file systems); a hostPath of type DirectoryOrCreate, where the pod
  keeps its data on the node (textfile, state, events log), becomes a
  directory under VOLUME_ROOT, so that a test leaves the host's own alone.
"""
import json
import os
import re
import sys

POD_FIELDS = {"hostPID", "tolerations", "automountServiceAccountToken", "enableServiceLinks",
              "terminationGracePeriodSeconds", "containers", "volumes"}
CONTAINER_FIELDS = {"name", "image", "imagePullPolicy", "command", "args", "env", "resources",
                    "securityContext", "volumeMounts"}
SECURITY_FIELDS = {"runAsUser", "privileged", "allowPrivilegeEscalation",
                   "readOnlyRootFilesystem", "capabilities", "seccompProfile", "appArmorProfile"}


def fail(message):
    sys.exit("pod2podman: " + message)


def only(fields, allowed, where):
    unknown = sorted(set(fields) - allowed)
    if unknown:
        fail("%s: no podman equivalent known for %s" % (where, ", ".join(unknown)))


def cpu_cores(quantity):
    quantity = str(quantity)
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def memory_bytes(quantity):
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "k": 1000, "M": 10**6, "G": 10**9}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(quantity))
    if not match or match.group(2) not in units and match.group(2):
        fail("memory quantity %r" % quantity)
    return int(float(match.group(1)) * units.get(match.group(2), 1))


def read_objects(path):
    """The objects of kubectl's output: one JSON document after another, or a List."""
    with open(path) as f:
        text = f.read()
    decoder, objects, at = json.JSONDecoder(), [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            break
        document, at = decoder.raw_decode(text, at)
        objects += document.get("items", [document])
    return objects


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    manifests, volume_root, node_name = sys.argv[1:]
    items = read_objects(manifests)
    daemonsets = [i for i in items if i["kind"] == "DaemonSet"]
    configmaps = {i["metadata"]["name"]: i for i in items if i["kind"] == "ConfigMap"}
    if len(daemonsets) != 1:
        fail("want one DaemonSet, found %d" % len(daemonsets))
    pod = daemonsets[0]["spec"]["template"]["spec"]
    only(pod, POD_FIELDS, "pod spec")
    if len(pod["containers"]) != 1:
        fail("want one container")
    container = pod["containers"][0]
    only(container, CONTAINER_FIELDS, "container")
    args = ["--name", "abusewatch-" + container["name"]]

    if pod.get("hostPID"):
        args.append("--pid=host")
    if pod.get("automountServiceAccountToken", True):
        fail("the pod wants a service account token: there is no API server here")
    if "terminationGracePeriodSeconds" in pod:
        args.append("--stop-timeout=%d" % pod["terminationGracePeriodSeconds"])
    if container.get("imagePullPolicy", "IfNotPresent") not in ("IfNotPresent", "Never"):
        fail("imagePullPolicy %s would pull" % container["imagePullPolicy"])
    args.append("--pull=never")

    env = {}
    for variable in container.get("env", []):
        only(variable, {"name", "value", "valueFrom"}, "env " + variable["name"])
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        elif variable["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}:
            env[variable["name"]] = node_name
        else:
            fail("env %s: only spec.nodeName comes from the downward API here" % variable["name"])
        args.append("--env=%s=%s" % (variable["name"], env[variable["name"]]))

    resources = container.get("resources", {})
    only(resources, {"limits", "requests"}, "resources")
    limits, requests = resources.get("limits", {}), resources.get("requests", {})
    only(limits, {"cpu", "memory"}, "resources.limits")
    only(requests, {"cpu", "memory"}, "resources.requests")
    if "cpu" in limits:
        args.append("--cpus=%g" % cpu_cores(limits["cpu"]))
    if "memory" in limits:
        args.append("--memory=%db" % memory_bytes(limits["memory"]))
    if "cpu" in requests:
        # The kubelet's shares: 1024 a core.
        args.append("--cpu-shares=%d" % max(2, int(cpu_cores(requests["cpu"]) * 1024)))
    if "memory" in requests:
        args.append("--memory-reservation=%db" % memory_bytes(requests["memory"]))

    security = container.get("securityContext", {})
    only(security, SECURITY_FIELDS, "securityContext")
    if "runAsUser" in security:
        args.append("--user=%d" % security["runAsUser"])
    if security.get("privileged"):
        args.append("--privileged")
    if security.get("allowPrivilegeEscalation") is False:
        args.append("--security-opt=no-new-privileges")
    if security.get("readOnlyRootFilesystem"):
        # Kubernetes mounts no tmpfs of its own on a read-only root.
        args += ["--read-only", "--read-only-tmpfs=false"]
    capabilities = security.get("capabilities", {})
    only(capabilities, {"add", "drop"}, "capabilities")
    for cap in capabilities.get("drop", []):
        args.append("--cap-drop=" + ("all" if cap == "ALL" else "CAP_" + cap))
    for cap in capabilities.get("add", []):
        args.append("--cap-add=CAP_" + cap)
    for field, option in (("seccompProfile", "seccomp"), ("appArmorProfile", "apparmor")):
        profile = security.get(field, {"type": "RuntimeDefault"})
        if profile.get("type") == "Unconfined":
            args.append("--security-opt=%s=unconfined" % option)
        elif profile.get("type") != "RuntimeDefault":
            fail("%s %s" % (field, profile))

    sources = {}
    for volume in pod.get("volumes", []):
        name = volume["name"]
        only(volume, {"name", "configMap", "hostPath"}, "volume " + name)
        if "configMap" in volume:
            data = configmaps.get(volume["configMap"]["name"])
            if data is None:
                fail("volume %s: no ConfigMap %s" % (name, volume["configMap"]["name"]))
            directory = os.path.join(volume_root, name)
            os.makedirs(directory, exist_ok=True)
            for key, text in data.get("data", {}).items():
                with open(os.path.join(directory, key), "w") as f:
                    f.write(text)
            sources[name] = directory
            continue
        host = volume["hostPath"]
        kind = host.get("type", "")
        if kind == "Directory":
            if not os.path.isdir(host["path"]):
                fail("volume %s: no directory %s on this host" % (name, host["path"]))
            sources[name] = host["path"]
        elif kind == "DirectoryOrCreate":
            sources[name] = os.path.join(volume_root, name)
            os.makedirs(sources[name], exist_ok=True)
        else:
            fail("volume %s: hostPath type %r" % (name, kind))

    mounts = {}
    for mount in container.get("volumeMounts", []):
        only(mount, {"name", "mountPath", "readOnly"}, "volumeMount " + mount["name"])
        if mount["name"] not in sources:
            fail("volumeMount %s: no such volume" % mount["name"])
        args.append("--volume=%s:%s%s" % (sources[mount["name"]], mount["mountPath"],
                                          ":ro" if mount.get("readOnly") else ""))
        mounts[mount["mountPath"]] = sources[mount["name"]]

    def expand(text):
        return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                      lambda m: env.get(m.group(1), m.group(0)), text)

    if "command" in container:
        args.append("--entrypoint=" + json.dumps([expand(a) for a in container["command"]]))
    args.append(container["image"])
    args += [expand(a) for a in container.get("args", [])]
    json.dump({"args": args, "mounts": mounts}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
