"""Business rules from YAML: each service validates its own section; errors name file, key and problem."""

import hashlib
import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class RulesError(ValueError):
    """A rules file that cannot be used, with the file, key and problem in the message."""


def load_rules_document(path: Path) -> dict[str, Any]:
    """Read the YAML document; the whole file must be a mapping."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(f"{path}: cannot read rules file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise RulesError(f"{path}: the rules file must be a mapping of sections")
    return document


def load_rules_section(path: Path, section: str, model: type[M]) -> tuple[M, str]:
    """Validate one section of a rules file; returns the rules and a version that changes with them."""
    document = load_rules_document(path)
    if section not in document:
        raise RulesError(f"{path}: {section}: section missing")
    try:
        rules = model.model_validate(document[section])
    except ValidationError as exc:
        problems = "; ".join(
            f"{path}: {'.'.join([section, *(str(p) for p in err['loc'])])}: {err['msg']}" for err in exc.errors()
        )
        raise RulesError(problems) from exc
    digest = hashlib.sha256(json.dumps(document[section], sort_keys=True, default=str).encode()).hexdigest()[:8]
    label = str(document.get("version", "unversioned"))
    return rules, f"{label}+{digest}"
