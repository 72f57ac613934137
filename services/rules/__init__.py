"""The default business rules that ship with leadflow."""

from pathlib import Path

DEFAULT_RULES = Path(__file__).with_name("default.yaml")


def rules_path(configured: str | None) -> Path:
    """The rules file in force: LEADFLOW_RULES when set, else the shipped default."""
    return Path(configured) if configured else DEFAULT_RULES
