"""Errors the engine raises on purpose.

Everything a user can cause (a bad image, a broken project, a missing weights
file) is an ``InspectorError`` with a message meant to be shown as is: the CLI
prints it on one line and exits 2, the GUI shows it in a message box.
"""


class InspectorError(Exception):
    """A problem the user can fix; ``str(err)`` is the readable message."""


class ConfigError(InspectorError):
    """An engine setting is missing, of the wrong type or out of range."""


class ImageError(InspectorError):
    """An image cannot be read or does not fit the ROI."""


class ImageTooLargeError(ImageError):
    """An image's header gives more pixels than the size limit (max_image_megapixels): refused undecoded."""


class RoiError(InspectorError):
    """A ROI description is invalid or lies outside the image."""


class ProjectError(InspectorError):
    """A project folder is missing, corrupt, or from an incompatible version."""


class WeightsError(InspectorError):
    """The backbone's pretrained weights cannot be used: not on this machine, unreadable, or a file that does
    not fit the backbone (other tensors or shapes)."""


# The earlier name said only "not found" though it was raised for files that do not fit too. Kept as the
# same class (not a subclass) so that callers' `except WeightsNotFoundError` still catches every weights error.
WeightsNotFoundError = WeightsError


class Cancelled(InspectorError):
    """The job was cancelled by the user; nothing was written."""


class ProjectBusyError(ProjectError):
    """Another process (or job) is saving the project right now."""


class StorageError(InspectorError):
    """A file or folder cannot be written or read: disk full, read-only, permissions, a file where a folder
    should be. The message names the path and what to do."""


# The packages a part of the product needs beyond what every install has (the edge install has the first column's
# modules only where its extras put them): module -> (pip package, what needs it).
OPTIONAL_PACKAGES = {
    "torch": ("torch", "teaching"), "timm": ("timm", "teaching"), "torchvision": ("torchvision", "teaching"),
    "nncf": ("nncf", "precision int8 (NNCF's quantisation)"),
    "watchdog": ("watchdog", "inspector run --source FOLDER"),
    "fastapi": ("fastapi", "inspector serve"), "fastapi_offline": ("fastapi-offline", "inspector serve"),
    "uvicorn": ("uvicorn", "inspector serve"), "multipart": ("python-multipart", "inspector serve"),
    "python_multipart": ("python-multipart", "inspector serve"),
    "pymodbus": ("pymodbus", "the Modbus PLC handshake"), "asyncua": ("asyncua", "the OPC UA PLC handshake"),
    "paho": ("paho-mqtt", "MQTT results"), "prometheus_client": ("prometheus-client", "the line's metrics"),
    "PySide6": ("PySide6-Essentials", "the window (inspector gui)"), "pyqtgraph": ("pyqtgraph", "the window"),
    "ray": ("ray[data]", "inspector rescore"), "pyarrow": ("pyarrow", "inspector rescore"),
    "matplotlib": ("matplotlib", "plots in reports"), "sklearn": ("scikit-learn", "inspector eval"),
    "anomalib": ("anomalib", "inspector eval's anomalib peer"),
}
EDGE_ONLY = ("torch", "timm", "torchvision")


def missing_package(exc: ModuleNotFoundError):
    """The plain line for a package this installation lacks (the edge install, a partial one); None when the
    missing module is not one of the product's optional packages (then it is a bug, not the user's setup)."""
    top = (exc.name or "").split(".")[0]
    if top not in OPTIONAL_PACKAGES:
        return None
    package, needed_by = OPTIONAL_PACKAGES[top]
    if top in EDGE_ONLY:
        return (f"this installation has no {top}: it inspects exported models only (inspector export on a full "
                f"install); {needed_by} needs the full install")
    return f"this installation has no {package}, which {needed_by} needs: pip install {package}"


def user_message(exc: BaseException):
    """The one line a command line shows for a fault the user can act on (then exit 2): an InspectorError's
    own message, an OSError in plain words (disk full, read-only, permission), a package this installation
    lacks; None for anything else (a bug). One mapping for every command-line client (inspector, inspector
    run / history / serve / gui)."""
    if isinstance(exc, InspectorError):
        return str(exc)
    if isinstance(exc, OSError):
        return str(plain_os_error(exc, None))
    if isinstance(exc, ModuleNotFoundError):
        return missing_package(exc)
    return None


def plain_os_error(exc: OSError, path, doing: str = "write") -> StorageError:
    """An OSError as one line a user can act on, naming the path."""
    import errno

    code = exc.errno
    where = str(path if path is not None else getattr(exc, "filename", None))
    if code == errno.ENOSPC:
        text = f"no space left on the disk while trying to {doing} {where}: free disk space and try again"
    elif code == errno.EDQUOT:
        text = f"disk quota exceeded while trying to {doing} {where}: free space or raise the quota"
    elif code == errno.EROFS:
        text = f"cannot {doing} {where}: the disk is read-only; choose a writable folder"
    elif code in (errno.EACCES, errno.EPERM):
        text = f"permission denied: cannot {doing} {where}; check the folder's permissions or choose another"
    elif code == errno.EISDIR:
        text = f"cannot {doing} {where}: it is a folder, not a file"
    elif code in (errno.ENOTDIR, errno.EEXIST):
        text = f"cannot {doing} {where}: a file is in the way where a folder is needed"
    elif code == errno.ENOENT:
        text = f"cannot {doing} {where}: no such file or folder"
    elif code == errno.EFBIG:
        text = f"cannot {doing} {where}: the file would be larger than this system or account allows"
    elif code == errno.ENAMETOOLONG:
        text = f"cannot {doing} {where}: the name is too long"
    else:
        text = f"cannot {doing} {where}: {exc.strerror or exc}"
    error = StorageError(text)
    error.os_error = exc  # so a caller can name a bigger whole (the project) for the same fault
    return error
