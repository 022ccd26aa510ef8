#!/usr/bin/env bash
# Installs the Python peer of `aetherveil bench webhook` (functions-framework + gunicorn) into the
# interpreter the benchmark uses (PYTHON, default python3), unless it is already importable.
set -euo pipefail

PYTHON="${PYTHON:-python3}"

if "$PYTHON" -c 'import functions_framework, gunicorn' 2>/dev/null; then
    echo "functions-framework and gunicorn are already installed for $PYTHON"
else
    echo "installing functions-framework and gunicorn for $PYTHON"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check functions-framework gunicorn
fi

"$PYTHON" - <<'PY'
from importlib.metadata import version
print("functions-framework", version("functions-framework"), "| gunicorn", version("gunicorn"))
PY
