"""`python -m kuadns_sync` runs the command line."""

from kuadns_sync.cli import main

main()
