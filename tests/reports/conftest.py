"""Report tests: make the shared sample builder (report_samples.py) importable.

Appended, not prepended, so that `from conftest import require_service` still finds tests/conftest.py.
"""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)
