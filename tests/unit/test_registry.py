"""A service's process carries its own code and libraries, not the other services' (#22: memory per process)."""

import json
import subprocess
import sys

import pytest

_PROBE = """
import json
import sys
import services.cli  # what `leadflow serve NAME` imports first
from services.registry import SERVICE_NAMES, service
spec = service(sys.argv[1])
spec.build_app(spec.settings(environment="development"))
others = [n for n in SERVICE_NAMES if n != sys.argv[1] and f"services.{n}.bootstrap" in sys.modules]
print(json.dumps({"others": others, "model_libraries": [m for m in ("sklearn", "scipy") if m in sys.modules]}))
"""


@pytest.mark.parametrize("name", ["intake", "qualifier", "forecast"])
def test_a_service_process_imports_no_other_service_nor_the_scorers_model_libraries(name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, name], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == {"others": [], "model_libraries": []}
