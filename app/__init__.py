"""The desktop application: teach, inspect and calibrate in one Qt window (PySide6 + pyqtgraph).

Only the public API of `inference` is used here; no engine submodule is imported.
"""

# Before any Qt object exists: PySide6 6.12's emit() takes a reference from True each time (app/bool_refcount.py).
from . import bool_refcount  # noqa: F401,E402
