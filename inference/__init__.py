"""The inspection engine: PatchCore on DINOv2 (or timm CNN) patch features. No Qt here.

The GUI and the CLI use only the names below.
"""

__version__ = "0.1.0"

from .calibration import Calibration, calibrate, rates
from .config import DISTANCES, SCORE_MODES, EngineConfig
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
from .preprocess import IMAGE_SUFFIXES, as_rgb8, expand_image_paths, images_in_folder, load_image
from .progress import CancelToken, ProgressFn
from .project import copy_model, has_model, load_settings, read_manifest, save_settings
from .roi import Annulus, Circle, Rect, Roi, full_image_roi, roi_from_dict, roi_to_dict, shape_mask
from .scoring import InferenceResult, Region, heatmap_png, heatmap_rgba
from .weights import PRESETS, WeightsInfo, user_models_dir

__all__ = [
    "__version__", "Annulus", "copy_model", "Calibration", "CancelToken", "Cancelled", "Circle", "ConfigError", "DISTANCES",
    "Engine", "EngineConfig", "FitResult", "IMAGE_SUFFIXES", "ImageError", "InferenceResult", "InspectorError",
    "MODEL_VERSION", "Model", "PRESETS", "ProgressFn", "ProjectError", "Rect", "Region", "Roi", "RoiError",
    "SCORE_MODES", "WeightsInfo", "WeightsNotFoundError", "as_rgb8", "calibrate", "expand_image_paths", "images_in_folder",
    "full_image_roi", "has_model", "heatmap_png", "heatmap_rgba", "load_image", "load_settings", "rates",
    "read_manifest", "roi_from_dict", "roi_to_dict", "save_settings", "shape_mask", "user_models_dir",
]
