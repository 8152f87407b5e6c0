"""The Kubernetes side of `kuadns-sync sync`: cluster clients, collection, watches, status, writes, leases.

The only package that imports `kubernetes`. Pure pieces (stale, status, lease decisions, objects)
sit beside thin I/O modules (clients, collect, writer, lease, loop); the merge and render stages
are called, never re-implemented.
"""
