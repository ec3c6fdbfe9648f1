"""The inspection engine: PatchCore on DINOv2 (or timm CNN) patch features. No Qt here.

The GUI and the CLI use only the names below.
"""

__version__ = "0.1.0"

from .backbone import IMAGENET_MEAN, IMAGENET_STD, Backbone, pick_device
from .calibration import Calibration, CalibrationError, calibrate, check_values, rates, with_threshold
from .config import DISTANCES, SCORE_MODES, EngineConfig, default_config_path, read_yaml
from .engine import MODEL_VERSION, Engine, FitResult, Model
from .errors import (
    Cancelled,
    ConfigError,
    ImageError,
    InspectorError,
    ProjectError,
    RoiError,
    WeightsNotFoundError,
)
from .knn import Searcher
from .knn import deserialize as deserialize_index
from .knn import serialize as serialize_index
from .preprocess import IMAGE_SUFFIXES, as_rgb8, decode_image, expand_image_paths, images_in_folder, load_image, stack_inputs
from .progress import CancelToken, ProgressFn
from .project import (
    atomic_write,
    copy_model,
    has_model,
    load_calibration,
    load_settings,
    read_manifest,
    save_settings,
)
from .roi import Annulus, Circle, Rect, Roi, crop_box, full_image_roi, roi_from_dict, roi_to_dict, shape_mask
from .scoring import InferenceResult, Region, heatmap_png, heatmap_rgba, overlay_rgb
from .synthetic import write_discs
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


__all__ = [
    "__version__",
    "Annulus",
    "as_rgb8",
    "atomic_write",
    "Backbone",
    "calibrate",
    "CalibrationError",
    "check_values",
    "with_threshold",
    "Calibration",
    "Cancelled",
    "CancelToken",
    "Circle",
    "ConfigError",
    "copy_model",
    "crop_box",
    "default_config_path",
    "decode_image",
    "deserialize_index",
    "DISTANCES",
    "Engine",
    "EngineConfig",
    "expand_image_paths",
    "find_weights_file",
    "FitResult",
    "full_image_roi",
    "has_model",
    "heatmap_png",
    "heatmap_rgba",
    "IMAGE_SUFFIXES",
    "ImageError",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "images_in_folder",
    "InferenceResult",
    "InspectorError",
    "load_calibration",
    "load_image",
    "load_settings",
    "map_by_order",
    "Model",
    "MODEL_VERSION",
    "overlay_rgb",
    "pick_device",
    "PRESETS",
    "ProgressFn",
    "ProjectError",
    "rates",
    "read_manifest",
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
    "WeightsNotFoundError",
    "write_discs",
]
