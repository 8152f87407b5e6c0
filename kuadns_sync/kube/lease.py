"""Leader election on a coordination.k8s.io/v1 Lease: of several replicas only the holder writes.

`decide` is pure (lease state + clock -> what to do); `LeaderLease` does the I/O in the local
cluster. Renewals are spaced (a third of the lease duration) so that a quick no-change resync does
not write the Lease either. Optimistic concurrency: a 409 means another replica won this round.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kuadns_sync.kube.clients import Cluster
from kuadns_sync.kube.collect import API_ERRORS, describe_failure
from kuadns_sync.kube.rest import request_timeout

log = logging.getLogger(__name__)

DEFAULT_DURATION = 30

Decision = Literal["create", "renew", "take", "hold", "wait"]


@dataclass(frozen=True, slots=True)
class LeaseState:
    """The parts of a Lease that matter for the decision (times in epoch seconds)."""

    holder: str | None
    duration: int
    renew_time: float | None
    transitions: int = 0
    resource_version: str = ""


def decide(state: LeaseState | None, identity: str, now: float, duration: int) -> Decision:
    """create: no Lease yet; take: free or expired; renew/hold: ours (renew when a third has elapsed); wait."""
    if state is None:
        return "create"
    renewed = state.renew_time if state.renew_time is not None else 0.0
    if state.holder == identity:
        return "renew" if now - renewed >= duration / 3 else "hold"
    if not state.holder or now > renewed + (state.duration or duration):
        return "take"
    return "wait"


def default_identity() -> str:
    """hostname-pid-random: unique per process, readable in `kubectl get lease`."""
    return f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(3)}"


def _epoch(value: dt.datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def _micro(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)


class LeaderLease:
    """A Lease `namespace/name` in the local cluster; `acquire()` says whether we lead right now."""

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        name: str,
        *,
        identity: str | None = None,
        duration: int = DEFAULT_DURATION,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = k8s.CoordinationV1Api(cluster.api)
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.duration = duration
        self.timeout = timeout
        self.clock = clock
        self._held_until = 0.0  # our own view: leading until this instant unless renewed
        self.writes = 0
        self.error: str | None = None  # why the last attempt failed (not: somebody else holds it)

    def _read(self) -> tuple[k8s.V1Lease | None, LeaseState | None]:
        try:
            lease = self.api.read_namespaced_lease(
                self.name, self.namespace, _request_timeout=request_timeout(self.timeout)
            )
        except ApiException as exc:
            if exc.status == 404:
                return None, None
            raise
        spec = lease.spec or k8s.V1LeaseSpec()
        state = LeaseState(
            holder=spec.holder_identity,
            duration=spec.lease_duration_seconds or self.duration,
            renew_time=_epoch(spec.renew_time),
            transitions=spec.lease_transitions or 0,
            resource_version=(lease.metadata.resource_version if lease.metadata else "") or "",
        )
        return lease, state

    def _spec(self, now: float, acquire: dt.datetime | None, transitions: int) -> k8s.V1LeaseSpec:
        return k8s.V1LeaseSpec(
            holder_identity=self.identity,
            lease_duration_seconds=self.duration,
            acquire_time=acquire or _micro(now),
            renew_time=_micro(now),
            lease_transitions=transitions,
        )

    def acquire(self) -> bool:
        """Create, take over or renew the Lease as needed; True when we are the leader now."""
        now = self.clock()
        self.error = None
        try:
            lease, state = self._read()
            decision = decide(state, self.identity, now, self.duration)
            if decision == "wait":
                self._held_until = 0.0
                return False
            if decision == "hold":
                renewed = state.renew_time if state and state.renew_time is not None else now
                self._held_until = renewed + self.duration
                return True
            if decision == "create" or lease is None:
                body = k8s.V1Lease(
                    metadata=k8s.V1ObjectMeta(name=self.name, namespace=self.namespace),
                    spec=self._spec(now, None, 0),
                )
                self.api.create_namespaced_lease(self.namespace, body, _request_timeout=request_timeout(self.timeout))
            else:
                old = lease.spec or k8s.V1LeaseSpec()
                ours = decision == "renew"
                transitions = (old.lease_transitions or 0) + (0 if ours else 1)
                lease.spec = self._spec(now, old.acquire_time if ours else None, transitions)
                self.api.replace_namespaced_lease(
                    self.name, self.namespace, lease, _request_timeout=request_timeout(self.timeout)
                )
            self.writes += 1
        except ApiException as exc:
            if exc.status == 409:
                self._held_until = 0.0
                return False  # another replica wrote the Lease first
            self.error = f"lease {self.namespace}/{self.name}: {describe_failure(exc, self.timeout)}"
            log.warning("%s", self.error)
            return self.leading()
        except API_ERRORS as exc:
            self.error = f"lease {self.namespace}/{self.name}: {describe_failure(exc, self.timeout)}"
            log.warning("%s", self.error)
            return self.leading()
        if decision != "renew":
            log.info("lease %s/%s: %s is now the leader", self.namespace, self.name, self.identity)
        self._held_until = now + self.duration
        return True

    def leading(self) -> bool:
        """Whether our last successful renewal still covers now (with a safety margin)."""
        return self.clock() < self._held_until - min(5.0, self.duration / 6)

    def release(self) -> None:
        """Give the Lease up (on shutdown) so another replica takes over at once."""
        try:
            lease, state = self._read()
            if lease is None or state is None or state.holder != self.identity or lease.spec is None:
                return
            lease.spec.holder_identity = None
            lease.spec.renew_time = None
            self.api.replace_namespaced_lease(
                self.name, self.namespace, lease, _request_timeout=request_timeout(self.timeout)
            )
        except API_ERRORS as exc:
            log.info("lease %s/%s: release failed: %s", self.namespace, self.name, describe_failure(exc, self.timeout))
        self._held_until = 0.0
