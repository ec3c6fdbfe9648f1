"""The desktop application: teach, inspect and calibrate in one Qt window (PySide6 + pyqtgraph).

Only the public API of `inference` is used here; no engine submodule is imported.
"""
