#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The container image, run as the DaemonSet runs it. Minutes of work and
# Debian's archive, so only under `make package-test` (AW_PACKAGE_TESTS=1):
# - image_build: scripts/build-image makes the OCI archive from Debian's
#   packages and the package of this tree (mmdebstrap, umoci), without an
#   image registry; podman takes it (oci-archive:) under the DaemonSet's
#   image name;
# - image_daemonset_counts: podman runs it with what
#   tests/deploy/pod2podman.py makes of deploy/kubernetes/ (host PID, the
#   same mounts, capabilities, security options, resources and arguments,
#   the ConfigMap as the configuration); a Kubernetes pod's cgroup of the
#   host (/kubepods/podUID, as the cgroupfs driver names it) is a tenant in
#   the textfile, and its CPU time is within 1% of its cpu.stat (as test_cpu);
# - image_stops_cleanly: `podman stop` ends it with status 0 within the
#   pod's grace period, after a last textfile.
# What the manifest cannot say and the test adds: runc where the host's
# cgroups are hybrid (crun refuses them), and open-file and process limits
# the runtime may set without CAP_SYS_RESOURCE in the container (a kubelet
# leaves the runtime's own).
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases image_build image_daemonset_counts image_stops_cleanly
if [[ ${AW_PACKAGE_TESTS:-} != 1 ]]; then
	skip_all "builds a Debian root and an image (minutes, Debian's archive): run by make package-test"
	e2e_finish
fi
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn || e2e_finish
for tool in mmdebstrap umoci podman kubectl; do
	if ! command -v "$tool" >/dev/null; then
		fail_all "$tool is missing (scripts/install-deps --package installs it)"
		e2e_finish
	fi
done
e2e_tmpdir || e2e_finish

VERSION=$(cat "$E2E_REPO/VERSION")
ARCHIVE=$E2E_REPO/build/package/abusewatch-$VERSION-oci.tar

# ---- the image
start=$SECONDS
if ! out=$("$E2E_REPO/scripts/build-image" 2>&1) || [[ ! -f $ARCHIVE ]]; then
	fail_all "scripts/build-image failed: $(tail -n 5 <<<"$out")"
	e2e_finish
fi
e2e_log "image in $((SECONDS - start)) s: OCI archive $(stat -c %s "$ARCHIVE") bytes," \
	"root file system $(stat -c %s "$E2E_REPO/build/package/rootfs.tar") bytes"

# The manifests as kubectl reads them (discovery from the stand-in).
python3 "$E2E_REPO/tests/deploy/kube_discovery.py" "$E2E_TMP/port" 2>/dev/null &
on_cleanup kill "$!"
for ((i = 0; i < 50; i++)); do
	[[ -s $E2E_TMP/port ]] && break
	sleep 0.1
done
JSON=$E2E_TMP/manifests.json
KUBECONFIG=/dev/null HOME=$E2E_TMP kubectl --server="http://127.0.0.1:$(cat "$E2E_TMP/port" 2>/dev/null)" \
	--cache-dir="$E2E_TMP/kube-cache" create --dry-run=client --validate=false \
	-f "$E2E_REPO/deploy/kubernetes" -o json >"$JSON" 2>"$E2E_TMP/kubectl.err"
NODE=e2e-node-1
if ! python3 "$E2E_REPO/tests/deploy/pod2podman.py" "$JSON" "$E2E_TMP/volumes" "$NODE" \
	>"$E2E_TMP/pod.json" 2>"$E2E_TMP/pod.err"; then
	fail_all "the DaemonSet does not translate: $(cat "$E2E_TMP/pod.err" "$E2E_TMP/kubectl.err" | head -n 3)"
	e2e_finish
fi
mapfile -t POD_ARGS < <(python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["args"]))' "$E2E_TMP/pod.json")
mount_of() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["mounts"].get(sys.argv[2], ""))' \
		"$E2E_TMP/pod.json" "$1"
}
IMAGE=$(python3 -c 'import json, sys
for i in json.load(open(sys.argv[1]))["args"]:
    if not i.startswith("-") and ":" in i and "/" in i.split(":")[0]:
        print(i); break' "$E2E_TMP/pod.json")
NAME=${POD_ARGS[1]}

podman rm -f "$NAME" >/dev/null 2>&1
podman pull -q "oci-archive:$ARCHIVE" >"$E2E_TMP/image.id" 2>"$E2E_TMP/pull.err" &&
	podman tag "$(cat "$E2E_TMP/image.id")" "$IMAGE"
status=$?
on_cleanup "podman rm -f '$NAME'; podman rmi -f '$IMAGE' '$(cat "$E2E_TMP/image.id" 2>/dev/null)'"
check image_build "$status" "podman pull oci-archive:$ARCHIVE as $IMAGE: $(cat "$E2E_TMP/pull.err" | tail -n 2)"
if ((status != 0)); then
	report_each "image_daemonset_counts image_stops_cleanly" fail "no image"
	e2e_finish
fi

# ---- a pod of the host, as the cgroupfs driver names it; the ConfigMap's
# rule "/kubepods/pod{pod}" makes it tenant pod-UID.
V2=$(e2e_v2_root)
POD_UID=e2e$$$RANDOM
KUBEPODS=$V2/kubepods
[[ -d $KUBEPODS ]] || { mkdir "$KUBEPODS" && on_cleanup rmdir "'$KUBEPODS'"; }
POD_CG=$KUBEPODS/pod$POD_UID
mkdir "$POD_CG" || {
	report_each "image_daemonset_counts image_stops_cleanly" fail "cannot create $POD_CG"
	e2e_finish
}
# Cleanups run in order: the pod's cgroup before its parent.
E2E_CLEANUPS=("cgroup_remove_tree '$POD_CG'" "${E2E_CLEANUPS[@]}")
TENANT=pod-$POD_UID

config=$(mount_of /etc/abusewatch)/abusewatch.yaml
# The agent pins its probes in the host's bpffs (the DaemonSet mounts it),
# named after its state_dir: removed at the end like any test's.
on_cleanup "'$AW_BIN' unpin -c '$config'"
textfile=$(awk '$1 == "textfile:" { print $2; exit }' "$config")
TEXTFILE=$(mount_of "$(dirname "$textfile")")/$(basename "$textfile")

runtime=()
if [[ $V2 != /sys/fs/cgroup ]] && command -v runc >/dev/null; then
	runtime=(--runtime runc)
fi
podman "${runtime[@]}" run -d --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
	"${POD_ARGS[@]}" >"$E2E_TMP/container.id" 2>"$E2E_TMP/run.err"
for ((i = 0; i < 200; i++)); do
	[[ -s $TEXTFILE ]] && break
	sleep 0.1
done
if [[ ! -s $TEXTFILE ]]; then
	report_each "image_daemonset_counts image_stops_cleanly" fail \
		"no textfile at $TEXTFILE after 20 s: $(cat "$E2E_TMP/run.err") $(podman logs "$NAME" 2>&1 | tail -n 3)"
	e2e_finish
fi

"$AW_TOOLS/incg" "$POD_CG" "$AW_TOOLS/burn" 1
truth=$(cgroup_cpu_seconds "$POD_CG")
AW_TEXTFILE=$TEXTFILE
value=$(wait_metric 10 abusewatch_tenant_cpu_seconds_total "$TENANT" '>=' "$truth")
memory=$(podman stats --no-stream --format '{{.MemUsage}}' "$NAME" 2>/dev/null)
caps=$(podman inspect --format '{{.EffectiveCaps}}' "$NAME" 2>/dev/null)
e2e_log "container: memory $memory; capabilities $caps"
errors=$(podman logs "$NAME" 2>&1 | grep -c ' error ')
within_pct "$value" "$truth" 1 && ((errors == 0))
check image_daemonset_counts "$?" "tenant $TENANT: cpu_seconds_total ${value:-missing}, cpu.stat $truth; errors logged: $errors $(podman logs "$NAME" 2>&1 | grep ' error ' | head -n 2)"

# ---- a stop as the kubelet's: SIGTERM, the grace period, then SIGKILL
before=$(stat -c %Y.%y "$TEXTFILE")
start=$SECONDS
podman stop "$NAME" >/dev/null 2>&1
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME" 2>/dev/null)
after=$(stat -c %Y.%y "$TEXTFILE")
[[ $exit_code == 0 && $after != "$before" ]]
check image_stops_cleanly "$?" "podman stop: exit code ${exit_code:-unknown} after $((SECONDS - start)) s; textfile written at the stop: $([[ $after != "$before" ]] && echo yes || echo no); $(podman logs "$NAME" 2>&1 | tail -n 2)"

e2e_finish
