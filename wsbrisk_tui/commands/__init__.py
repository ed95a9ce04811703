"""Subcommands. Each module: ``add_parser(subparsers, common)`` (cheap) and ``run(args) -> int``."""
