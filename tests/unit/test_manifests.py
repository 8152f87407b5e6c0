"""Reading manifest directories: a DNSRecord defined twice in one cluster is an error naming both files,
and only the first definition is used (an API server would refuse the second create)."""

from __future__ import annotations

from pathlib import Path

from kuadns_sync.manifests import read_cluster_dir

RECORD = """apiVersion: kuadrant.io/v1alpha1
kind: DNSRecord
metadata: {{name: web, namespace: {namespace}}}
spec:
  rootHost: web.k.example.com
  endpoints:
    - {{dnsName: web.k.example.com, recordType: A, recordTTL: 60, targets: [{ip}]}}
"""


def test_a_record_defined_twice_is_an_error_and_the_first_definition_is_kept(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(RECORD.format(namespace="dnstest", ip="10.0.0.1"))
    (tmp_path / "b.yaml").write_text(RECORD.format(namespace="dnstest", ip="10.0.0.2") + "---\n"
                                     + RECORD.format(namespace="other", ip="10.0.0.3"))
    snapshot, issues = read_cluster_dir(tmp_path, "c1", local=True)
    kept = [(r["metadata"]["namespace"], r["spec"]["endpoints"][0]["targets"][0]) for r in snapshot.records]
    assert kept == [("dnstest", "10.0.0.1"), ("other", "10.0.0.3")]
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.severity, issue.reason) == ("error", "DuplicateRecord")
    assert issue.origin is not None and (issue.origin.cluster, issue.origin.namespace, issue.origin.name) == (
        "c1", "dnstest", "web")
    assert "b.yaml" in issue.message and "first in a.yaml" in issue.message
