"""Generate the Python client SDK from the API's OpenAPI document: ``make sdk``.

``python clients/generate.py OUT`` writes ``OUT/openapi.json`` (the document of an app
with every router, api/openapi_document.py) and generates the client into
``OUT/python`` with openapi-python-client from the SDK venv (``.venv-sdk``, its own lock:
the generator pins typer < 0.28), using ``clients/openapi-python-client.yaml``.

``make sdk`` runs it with OUT = clients/ (the committed copy); the up-to-date test
(tests/unit/test_sdk_up_to_date.py) with a temporary OUT, then compares. The output is a
function of the document and the pinned generator only: no dates, no versions but the
API's own, formatted by the SDK venv's pinned ruff.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SDK_BIN = REPO / ".venv-sdk" / "bin"
CONFIG = REPO / "clients" / "openapi-python-client.yaml"


def generate(out: Path) -> None:
    """Write ``out/openapi.json`` and regenerate ``out/python`` from it (replaced whole)."""
    if not (SDK_BIN / "openapi-python-client").exists():
        raise SystemExit("no SDK venv: run `make sdk-venv` (or `make sdk`)")
    sys.path.insert(0, str(REPO))
    from api.openapi_document import write

    out.mkdir(parents=True, exist_ok=True)
    write(out / "openapi.json")
    # The post hooks (ruff) are found on PATH: the SDK venv's first.
    env = {**os.environ, "PATH": f"{SDK_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(
        [str(SDK_BIN / "openapi-python-client"), "generate", "--path", "openapi.json",
         "--config", str(CONFIG), "--meta", "setup", "--output-path", "python",
         "--overwrite"],
        cwd=out, env=env, check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    generate(Path(sys.argv[1]).resolve())
