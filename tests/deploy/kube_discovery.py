#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
kube_discovery.py PORTFILE: the discovery part of a Kubernetes API server,
nothing else, on 127.0.0.1 (a free port, written to PORTFILE once it
listens). `kubectl create --dry-run=client` maps each manifest's kind to a
resource through discovery even though it sends nothing; this answers for
the kinds deploy/kubernetes/ uses, so that the manifests can be checked on a
machine without a cluster. Any other request gets 404.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def resource(name, kind, namespaced):
    return {"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}


DOCUMENTS = {
    "/api": {"kind": "APIVersions", "versions": ["v1"],
             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                             "serverAddress": "127.0.0.1"}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1",
              "groups": [{"name": "apps",
                          "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                          "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1",
                "resources": [resource("namespaces", "Namespace", False),
                              resource("configmaps", "ConfigMap", True)]},
    "/apis/apps/v1": {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1",
                      "resources": [resource("daemonsets", "DaemonSet", True)]},
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        document = DOCUMENTS.get(self.path.split("?", 1)[0])
        body = json.dumps(document if document else
                          {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "reason": "NotFound", "code": 404}).encode()
        self.send_response(200 if document else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("kube_discovery: %s\n" % (format % args))


def main():
    server = HTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1] + ".tmp", "w") as out:
        out.write("%d\n" % server.server_address[1])
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
