"""`inspector` command line (placeholder until the CLI lands)."""
import sys


def main(argv=None) -> int:
    print("inspector: CLI not yet implemented", file=sys.stderr)
    return 2
