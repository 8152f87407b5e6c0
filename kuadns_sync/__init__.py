"""kuadns-sync: self-hosted GeoDNS for Kuadrant DNSRecords."""

__version__ = "0.1.0"
