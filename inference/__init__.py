"""The inspection engine: PatchCore on DINOv2 (or timm CNN) patch features. No Qt here.

The GUI and the CLI use only the names below.
"""

__version__ = "0.1.0"

from .calibration import (
    AREA_UNITS,
    CALIBRATION_METHODS,
    Calibration,
    CalibrationError,
    area_unit,
    calibrate,
    calibrate_by,
    check_values,
    mad_threshold,
    rates,
    tail_threshold,
    threshold_errors,
    ThresholdErrors,
    with_threshold,
)
from .calibration_warnings import calibration_warnings, capture_shift_warning
from .config import (BRIGHTNESS_MODES, DISTANCES, FOREGROUND_MODES, PART_SYMMETRIES, SCORE_MODES, EngineConfig,
                     absent_as_before, config_keys, default_config_path, parse_settings, read_yaml)
from .features import reusing_features
from .precision_gate import describe as describe_precision_check, describe_compute, describe_int8
from .foreground import foreground_overlay
from .engine import CalibrationSamples, Engine
from .fitted import FitResult, Model
from .verdict import Verdict, VerdictCounts
from .edge import device_name, engine_for, export_model, is_export, read_export
from .manifest import MODEL_VERSION
from .model_record import BackboneRecord, ModelRecord
from .model_checks import verify_project
from .errors import (
    Cancelled,
    ProjectBusyError,
    StorageError,
    plain_os_error,
    user_message,
    ConfigError,
    ImageError,
    ImageTooLargeError,
    InspectorError,
    ProjectError,
    RoiError,
    WeightsError,
    WeightsNotFoundError,
)
from .knn import Searcher
from .provenance import NOT_AVAILABLE as NEAREST_NOT_AVAILABLE, PROVENANCE_FILE, NearestTaught, nearest_taught
from .image_check import CLIPPED_LEVEL
from .knn import deserialize as deserialize_index
from .knn import index_kind, ivf_lists_scanned
from .knn import serialize as serialize_index
from .preprocess import (IMAGE_SUFFIXES, as_rgb8, check_image_header, decode_image, expand_image_paths,
                         images_in_folder, load_image, read_image_file, stack_inputs)
from .progress import CancelToken, ProgressFn
from .project import (
    VersionInfo,
    active_version,
    append_audit,
    list_versions,
    os_user,
    read_audit,
    SavedVersion,
    atomic_write,
    atomic_writer,
    copy_model,
    has_model,
    load_calibration,
    load_settings,
    model_stamp,
    read_manifest,
    read_record,
    save_settings,
)
from .project import activate as activate_version
from .audit_chain import verify_audit
from .project_backup import BackupInfo, check_backup, read_backup_info, restore_backup, write_backup
from .align import ALIGN_MODES, Placement, default_locate_box
from .part_turns import TurnEvidence, taught_turns
from .part_mirror import MirrorEvidence, taught_mirror
from .roi import (
    Annulus,
    Circle,
    IgnoreShape,
    Polygon,
    Rect,
    Roi,
    crop_box,
    full_image_roi,
    ignore_from_dict,
    ignore_list_from_json,
    outline,
    roi_from_dict,
    roi_to_dict,
    shape_mask,
)
from .scoring import (
    InferenceResult,
    Region,
    error_result,
    verdict_level,
)
from .heatmap import (
    HEATMAP_COLORMAPS,
    heatmap_colours,
    heatmap_png,
    heatmap_rgb,
    heatmap_rgba,
    heatmap_scale,
    heatmap_thumbnail_png,
    overlay_rgb,
)
from .resources import resource_path
from .synthetic import write_discs
from .zones import REST as ZONE_REST, Zone, ZoneError, zones_from_list, zones_to_list
from .zones import check_over_roi as check_zones_over_roi
from .weights import (
    PRESETS,
    WeightsInfo,
    find_weights_file,
    map_by_order,
    read_state_dict,
    resolve_preset,
    sha256_file,
    user_models_dir,
)


# torch and timm load on first use of these names (an exported model inspects without them: inference/edge.py).
_FROM_BACKBONE = ("Backbone", "IMAGENET_MEAN", "IMAGENET_STD", "pick_device", "cpu_bf16_flags")


def __getattr__(name: str):
    if name in _FROM_BACKBONE:
        from . import backbone

        return getattr(backbone, name)
    raise AttributeError(f"module 'inference' has no attribute {name!r}")


__all__ = [
    "CLIPPED_LEVEL",
    "ZONE_REST", "Zone", "ZoneError", "check_zones_over_roi", "zones_from_list", "zones_to_list",
    "NEAREST_NOT_AVAILABLE",
    "NearestTaught",
    "nearest_taught",
    "PROVENANCE_FILE",
    "AREA_UNITS",
    "area_unit",
    "__version__",
    "ALIGN_MODES",
    "Annulus",
    "as_rgb8",
    "atomic_write",
    "activate_version",
    "active_version",
    "append_audit",
    "verify_audit",
    "BackupInfo",
    "check_backup",
    "read_backup_info",
    "restore_backup",
    "write_backup",
    "list_versions",
    "os_user",
    "read_audit",
    "SavedVersion",
    "VersionInfo",
    "Backbone",
    "device_name",
    "engine_for",
    "export_model",
    "is_export",
    "read_export",
    "BackboneRecord",
    "calibrate",
    "calibrate_by",
    "calibration_warnings",
    "CalibrationSamples",
    "error_result",
    "Verdict",
    "VerdictCounts",
    "verdict_level",
    "capture_shift_warning",
    "mad_threshold",
    "tail_threshold",
    "threshold_errors",
    "ThresholdErrors",
    "CALIBRATION_METHODS",
    "CalibrationError",
    "check_values",
    "with_threshold",
    "Calibration",
    "Cancelled",
    "ProjectBusyError",
    "StorageError",
    "plain_os_error",
    "user_message",
    "check_image_header",
    "ImageTooLargeError",
    "verify_project",
    "atomic_writer",
    "CancelToken",
    "Circle",
    "config_keys",
    "ConfigError",
    "copy_model",
    "crop_box",
    "default_config_path",
    "parse_settings",
    "default_locate_box",
    "decode_image",
    "deserialize_index",
    "index_kind",
    "ivf_lists_scanned",
    "DISTANCES",
    "FOREGROUND_MODES",
    "PART_SYMMETRIES",
    "BRIGHTNESS_MODES",
    "foreground_overlay",
    "reusing_features",
    "describe_precision_check",
    "describe_int8",
    "describe_compute",
    "Engine",
    "EngineConfig",
    "absent_as_before",
    "expand_image_paths",
    "find_weights_file",
    "FitResult",
    "full_image_roi",
    "has_model",
    "model_stamp",
    "HEATMAP_COLORMAPS",
    "heatmap_colours",
    "heatmap_png",
    "heatmap_scale",
    "heatmap_thumbnail_png",
    "heatmap_rgb",
    "heatmap_rgba",
    "IgnoreShape",
    "ignore_from_dict",
    "ignore_list_from_json",
    "IMAGE_SUFFIXES",
    "ImageError",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "images_in_folder",
    "InferenceResult",
    "InspectorError",
    "load_calibration",
    "load_image",
    "read_image_file",
    "load_settings",
    "map_by_order",
    "Model",
    "ModelRecord",
    "MODEL_VERSION",
    "outline",
    "overlay_rgb",
    "Placement",
    "Polygon",
    "pick_device",
    "cpu_bf16_flags",
    "PRESETS",
    "ProgressFn",
    "ProjectError",
    "rates",
    "read_manifest",
    "read_record",
    "read_state_dict",
    "read_yaml",
    "Rect",
    "Region",
    "resolve_preset",
    "Roi",
    "roi_from_dict",
    "roi_to_dict",
    "RoiError",
    "save_settings",
    "SCORE_MODES",
    "Searcher",
    "serialize_index",
    "sha256_file",
    "shape_mask",
    "stack_inputs",
    "user_models_dir",
    "WeightsInfo",
    "WeightsError",
    "WeightsNotFoundError",  # deprecated name of WeightsError (the same class)
    "write_discs",
    "resource_path",
    "TurnEvidence", "taught_turns",
    "MirrorEvidence", "taught_mirror",
]
