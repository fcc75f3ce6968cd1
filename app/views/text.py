"""Tokens shown as text."""


def visible(token: str) -> str:
    """Whitespace made visible, so that ' in' and 'in' and '\\n' read differently."""
    return token.replace("\n", "⏎").replace("\t", "⇥").replace(" ", "·")
