"""The dashboard's Textual themes and the config names that select them.

Four themes, registered by :class:`wsbrisk_tui.app.RiskDeskApp`:

==================  =======================  =================================================
config name         Textual theme            for
==================  =======================  =================================================
``default``         ``wsbrisk-dark``         dark terminals, truecolour or 256 colours
``light``           ``wsbrisk-light``        light terminals
``high-contrast``   ``wsbrisk-high-contrast``  black/white with saturated gain/loss colours
``monochrome``      ``wsbrisk-mono``         ANSI default colours only (``NO_COLOR``, 16-colour tmux)
==================  =======================  =================================================

Colour is never the only carrier of meaning: gains and losses also have signs and arrows
(▲ ▼), severities have words, backtest zones are spelled out. The monochrome theme uses the
terminal's own default foreground/background and reverse video for the cursor.
"""

from __future__ import annotations

from textual.theme import Theme

DARK = Theme(
    name="wsbrisk-dark",
    primary="#3D8FD1",
    secondary="#5A6F86",
    accent="#E0A030",
    warning="#D29922",
    error="#F85149",
    success="#3FB950",
    foreground="#D6DDE6",
    background="#0F1419",
    surface="#161B22",
    panel="#1F2630",
    dark=True,
)

LIGHT = Theme(
    name="wsbrisk-light",
    primary="#1F6FEB",
    secondary="#57606A",
    accent="#8250DF",
    warning="#9A6700",
    error="#CF222E",
    success="#1A7F37",
    foreground="#1F2328",
    background="#F6F8FA",
    surface="#FFFFFF",
    panel="#E7ECF0",
    dark=False,
)

HIGH_CONTRAST = Theme(
    name="wsbrisk-high-contrast",
    primary="#00AAFF",
    secondary="#FFFFFF",
    accent="#FF00FF",
    warning="#FFFF00",
    error="#FF3030",
    success="#00FF00",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#202020",
    dark=True,
    variables={"border": "#FFFFFF", "block-cursor-background": "#FFFFFF",
               "block-cursor-foreground": "#000000"},
)

MONO = Theme(
    name="wsbrisk-mono",
    ansi=True,
    primary="ansi_default",
    secondary="ansi_default",
    accent="ansi_default",
    warning="ansi_default",
    error="ansi_default",
    success="ansi_default",
    foreground="ansi_default",
    background="ansi_default",
    surface="ansi_default",
    panel="ansi_default",
    boost="ansi_default",
    dark=True,
    variables={
        "ansi-background": "ansi_default",
        "ansi-foreground": "ansi_default",
        "border": "ansi_default",
        "border-blurred": "ansi_default",
        "block-cursor-foreground": "ansi_default",
        "block-cursor-background": "ansi_default",
        "block-cursor-text-style": "reverse bold",
        "block-cursor-blurred-foreground": "ansi_default",
        "block-cursor-blurred-background": "ansi_default",
        "block-cursor-blurred-text-style": "underline",
        "footer-key-foreground": "ansi_default",
        "scrollbar": "ansi_default",
        "scrollbar-background": "ansi_default",
    },
)

THEMES: tuple[Theme, ...] = (DARK, LIGHT, HIGH_CONTRAST, MONO)

#: Config name (``general.theme``, ``--theme``) -> Textual theme name.
CONFIG_NAMES: dict[str, str] = {
    "default": DARK.name,
    "light": LIGHT.name,
    "high-contrast": HIGH_CONTRAST.name,
    "monochrome": MONO.name,
}

#: Themes without colour: panes drop background shading and rely on signs, arrows and words.
COLOURLESS: frozenset[str] = frozenset({MONO.name})


def theme_name(config_name: str, *, no_color: bool = False) -> str:
    """The Textual theme for a config name; ``NO_COLOR`` always selects monochrome.

    Raises ``ValueError`` naming the accepted names when ``config_name`` is unknown (the config
    loader validates the value first, so this only fires for programmatic use).
    """
    if no_color:
        return MONO.name
    if config_name in CONFIG_NAMES:
        return CONFIG_NAMES[config_name]
    if config_name in CONFIG_NAMES.values():
        return config_name
    raise ValueError(f"unknown theme {config_name!r}: use one of {', '.join(CONFIG_NAMES)}")
