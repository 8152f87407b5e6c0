"""Local Kubernetes API server emulator: real REST protocol for the official client and kubectl, no cluster.

Python API (one emulated cluster per ApiServer; several servers = several clusters):

    from kuadns_sync.dev import start_apiserver
    with start_apiserver(port=0, cluster_name="east", kubeconfig_dir=tmp_path) as srv:
        srv.url                 # "http://127.0.0.1:<port>"
        srv.kubeconfig_path     # tmp_path / "east.kubeconfig" (cluster/context/user "east", bearer token)
        srv.kubeconfig_text     # same text, e.g. for a kuadrant.io/multicluster-kubeconfig Secret
        srv.token               # the bearer token it accepts; anything else gets 401
        srv.kube_system_uid     # UID of namespace kube-system (upstream's cluster ID)
        srv.set_fault("unreachable" | "slow" | 401 | 403 | 500 | None, delay=2.0)
        srv.compact()           # forget watch history: older watches/continue tokens get 410 Gone
        srv.resource_version    # newest resourceVersion
        srv.objects("dnsrecords", namespace=None)       # copies of stored objects (plural/kind/short name)
        srv.get_object("secrets", "name", "ns")         # one object or None
        srv.create_object(obj); srv.load(objs)           # bypass HTTP (bulk fixtures); namespaces auto-created
        srv.patch_object("dnsrecords", "n", {...}, "ns", subresource="status"); srv.delete_object(...)
        srv.write_count, srv.request_count, srv.requests(), srv.reset_counters()   # HTTP accounting

Served: namespaces, secrets, configmaps (v1), leases (coordination.k8s.io/v1), dnsrecords (kuadrant.io/v1alpha1,
status subresource, validated against kuadns_sync/crd/dnsrecords.kuadrant.io.yaml), CRDs (read-only).
Command line: `kuadns-sync dev apiserver --port N --kubeconfig OUT [--cluster-name NAME] [--host H]`.
"""

from __future__ import annotations

from kuadns_sync.dev.apiserver import ApiServer, render_kubeconfig, start_apiserver
from kuadns_sync.dev.http import RequestRecord
from kuadns_sync.dev.status import ApiError

__all__ = ["ApiError", "ApiServer", "RequestRecord", "render_kubeconfig", "start_apiserver"]
