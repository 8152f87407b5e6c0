"""Tests of the Kubernetes sync loop (kuadns_sync.kube) against emulated clusters."""
