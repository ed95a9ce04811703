"""The dashboard's panes, one module each; every pane formats a RiskSnapshot and computes nothing.

This package's ``__init__`` stays free of Textual so the command line can list pane names
cheaply (``--pane`` choices).
"""

#: Pane names in key order (keys 1-8); ``wsbrisk-tui snapshot --pane NAME`` accepts these.
PANES: tuple[str, ...] = ("positions", "var", "stress", "correlation", "alerts", "history", "info", "ml")
