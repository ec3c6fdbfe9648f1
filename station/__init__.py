"""The station layer: the use cases every client shares (teach, calibrate, activate, inspect, review), the
typed outcome of an inspection and the inspection history. It uses only the engine's public API
(`inference`), and no client imports the engine for these: see docs/architecture.md."""

from .history import NO_VERDICT, PURPOSES, History, HistoryError, Inspection, default_path, to_epoch
from .outcome import ErrorCode, Outcome
from .part_ids import PartIdPattern, checked_part_id
from .project_info import ProjectInfo, describe as describe_project, model_notice
from .station import CalibrateResult, Station

__all__ = ["CalibrateResult", "ErrorCode", "History", "HistoryError", "Inspection", "NO_VERDICT", "Outcome",
           "PartIdPattern", "PURPOSES", "ProjectInfo", "Station", "checked_part_id", "default_path", "describe_project",
           "model_notice", "to_epoch"]
