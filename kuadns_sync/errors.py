"""Exceptions for infrastructure and configuration failures (data problems are `model.Issue`s instead).

Pure, no I/O. The CLI maps every KuadnsError to `error: <message>` on stderr and exit code 1.
"""

from __future__ import annotations


class KuadnsError(Exception):
    """Base class of every expected failure; the message names the origin (file, cluster, flag)."""


class ConfigError(KuadnsError):
    """Bad configuration: flags, config file, zones."""


class SourceError(KuadnsError):
    """A source (manifest directory or cluster) could not be read."""


class BundleError(KuadnsError):
    """A bundle could not be written, or failed to load/verify."""


class UnsafePlanError(KuadnsError):
    """A sync would change or delete more than the safety threshold allows without --force."""
