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


class RoiError(InspectorError):
    """A ROI description is invalid or lies outside the image."""


class ProjectError(InspectorError):
    """A project folder is missing, corrupt, or from an incompatible version."""


class WeightsNotFoundError(InspectorError):
    """The backbone's pretrained weights cannot be found on this machine."""


class Cancelled(InspectorError):
    """The job was cancelled by the user; nothing was written."""
