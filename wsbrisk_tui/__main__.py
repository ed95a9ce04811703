"""``python -m wsbrisk_tui`` runs the same entry point as the ``wsbrisk-tui`` script."""

from wsbrisk_tui.cli import main

raise SystemExit(main())
