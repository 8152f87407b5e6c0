"""Local Kubernetes API server emulator: the real REST protocol for the official client and kubectl, no cluster.

Python API (one ApiServer = one emulated cluster; start several for several clusters):

    from kuadns_sync.dev import start_apiserver
    with start_apiserver(port=0, cluster_name="east", kubeconfig_dir=tmp_path,
                         kube_system_uid=None, token=None, bookmark_interval=10.0, seed=None,
                         clock=time.time, use_tls=True) as srv:
        srv.url                 # "https://127.0.0.1:<port>" (self-signed; the kubeconfig embeds it as the CA)
        srv.kubeconfig_path     # tmp_path / "east.kubeconfig": cluster/context/user "east", bearer token
        srv.kubeconfig_text     # same text, e.g. for a kuadrant.io/multicluster-kubeconfig Secret
        srv.token, srv.ca_pem   # the only bearer token accepted (others get 401); the TLS certificate
        srv.kube_system_uid     # UID of namespace kube-system (upstream's cluster ID)
        srv.set_fault("unreachable" | "slow" | 401 | 403 | 500 | None, delay=2.0)
        srv.compact()           # forget watch history: older watches and continue tokens get 410 Gone
        srv.resource_version    # newest resourceVersion
        srv.objects("dnsrecords", namespace=None)      # copies of stored objects (plural, kind or short name)
        srv.get_object("secrets", "name", "ns")        # one copy, or None
        srv.create_object(obj) -> copy; srv.load(objs) -> count   # bypass HTTP: validated, namespaces
                                                        # auto-created, status kept
        srv.patch_object("dnsrecords", "n", {...}, "ns", subresource="status"); srv.delete_object(...)
        srv.write_count, srv.request_count              # authenticated POST/PUT/PATCH/DELETE; all requests
        srv.requests(), srv.reset_counters()            # [RequestRecord(method, path, query, code)]

"unreachable" resets every connection (open watches end; clients see connection errors) until cleared; "slow"
delays each response; a status code answers every request with that Status. The Python API ignores faults.

Served: namespaces, secrets, configmaps (v1), leases (coordination.k8s.io/v1), dnsrecords (kuadrant.io/v1alpha1,
status subresource, validated against kuadns_sync/crd/dnsrecords.kuadrant.io.yaml incl. its CEL rules), CRDs
(read-only); discovery, /version, /openapi/v3, Table output, watches with bookmarks, paginated lists. HTTP/1.1
keep-alive with pipelining: answers to requests sent back to back on one connection leave in order, together.
Known gaps: no aggregated discovery (kubectl falls back), lists always serve the newest state (an old
resourceVersion with resourceVersionMatch=Exact is not honoured), server-side apply merges without field
ownership, strategic merge on core kinds replaces lists, no admission webhooks, RBAC or garbage collection.
Command line: `kuadns-sync dev apiserver --port N --kubeconfig OUT [--cluster-name NAME] [--host H] [--load DIR]`.
"""

from __future__ import annotations

from kuadns_sync.dev.apiserver import ApiServer, render_kubeconfig, start_apiserver
from kuadns_sync.dev.http import RequestRecord
from kuadns_sync.dev.status import ApiError

__all__ = ["ApiError", "ApiServer", "RequestRecord", "render_kubeconfig", "start_apiserver"]
