"""On the line: the run mode (folder, camera or video source) and the inspection history (SQLite)."""
