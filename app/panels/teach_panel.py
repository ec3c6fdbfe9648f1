"""Teach: the OK images (file dialog, folder, drag and drop), thumbnails, Fit and Add to model."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout,
    QWidget,
)

import inference

from .. import file_dialogs, messages
from ..messages import describe

THUMB = 96
# The part's symmetry (engine setting part_symmetry): what the Teach step asks, in the user's words.
SYMMETRY_CHOICES = (
    ("none", "Not symmetric (default)"),
    ("mirror", "Looks the same mirrored"),
    ("rot180", "Looks the same turned half way"),
    ("rot90", "Looks the same turned by any quarter"),
    ("any", "Looks the same turned or mirrored"),
    ("turns", "Lies at any angle (turned, not mirrored)"),
)
# The light at the line (engine setting brightness): what the Teach step asks, in the user's words.
LIGHTING_CHOICES = (
    ("none", "Steady light (default)"),
    ("shift", "Light varies: even out brightness"),
    ("shift_scale", "Light varies: even out brightness and contrast"),
)
IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in sorted(inference.IMAGE_SUFFIXES)) + ")"


def decoded_thumbnail(path: str) -> Optional[QIcon]:
    """A small icon read with Qt's scaled decoding (cheap even for large images), or None when Qt cannot
    decode the file; decoding reads the whole file, so this is also the check that it is an image."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and size.width() > 0:
        reader.setScaledSize(size.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    return None if image.isNull() else QIcon(QPixmap.fromImage(image))


def placeholder() -> QIcon:
    pix = QPixmap(THUMB, THUMB)
    pix.fill(Qt.GlobalColor.darkGray)
    return QIcon(pix)


def thumbnail(path: str) -> QIcon:
    return decoded_thumbnail(path) or placeholder()


def readable(path: str) -> Optional[QIcon]:
    """The thumbnail of a file that decodes as an image, else None (the engine's reader is the
    fallback for formats Qt lacks; those get a plain icon)."""
    icon = decoded_thumbnail(path)
    if icon is not None:
        return icon
    try:
        inference.load_image(path)
    except inference.InspectorError:
        return None
    return placeholder()


def image_paths_from(paths) -> list[str]:
    """Files and folders (one level) to image files, in a stable order."""
    out: list[str] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(str(f) for f in inference.images_in_folder(p))
        elif p.suffix.lower() in inference.IMAGE_SUFFIXES:
            out.append(str(p))
    return out


class ThumbnailList(QListWidget):
    """Thumbnails of the taught images; accepts dropped files and folders."""

    def __init__(self, on_drop, parent=None):
        super().__init__(parent)
        self.on_drop = on_drop
        self.on_delete = None
        self.setObjectName("teachList")
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.setAcceptDrops(True)
        self.setToolTip("OK images to teach: drop image files or folders here; Del removes the selection")

    def event(self, event):
        # Del removes thumbnails while the list has focus, instead of the window's "Delete ROI".
        if event.type() == QEvent.Type.ShortcutOverride and event.key() == Qt.Key.Key_Delete:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event):
        if event.key() == Qt.Key.Key_Delete and self.on_delete is not None:
            self.on_delete()
            return
        super().keyPressEvent(event)

    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event):
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.on_drop(urls)
        else:
            super().dropEvent(event)


class TeachPanel(QWidget):
    # A taught image the user picked, to show as the reference for drawing the ROI.
    previewRequested = Signal(str)

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.doc = session.doc
        self._icons: dict[str, QIcon] = {}

        add_files = QPushButton("Add images…")
        add_files.setToolTip("Choose OK images of good parts (Ctrl+I)")
        add_files.clicked.connect(self.choose_files)
        add_folder = QPushButton("Add folder…")
        add_folder.setToolTip("Add every image in a folder")
        add_folder.clicked.connect(self.choose_folder)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected images from the list (Del)")
        self.remove_button.clicked.connect(self.remove_selected)
        row = QHBoxLayout()
        for b in (add_files, add_folder, self.remove_button):
            row.addWidget(b)

        self.list = ThumbnailList(self.add_paths)
        self.list.on_delete = self.remove_selected
        self.list.itemSelectionChanged.connect(lambda: self._busy(self.session.runner.busy))
        self.list.currentItemChanged.connect(
            lambda item, _old: item is not None and self.previewRequested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.count_label = QLabel()

        self.fit_button = QPushButton("Fit")
        self.fit_button.setObjectName("fitButton")
        self.fit_button.setToolTip("Teach a new model from all images in the list (Ctrl+T); the old model is "
                                   "replaced only when the fit succeeds")
        self.fit_button.clicked.connect(self.fit)
        self.add_button = QPushButton("Add to model")
        self.add_button.setObjectName("addButton")
        self.add_button.setToolTip("Teach only the images added since the last fit into the existing model "
                                   "(incremental, keeps the model's settings)")
        self.add_button.clicked.connect(self.add_to_model)
        fit_row = QHBoxLayout()
        fit_row.addWidget(self.fit_button)
        fit_row.addWidget(self.add_button)
        # The part's symmetry: the taught images are also taught turned / mirrored so. Never on by itself:
        # a mirrored OK copy would teach a wrongly placed part as OK.
        self.symmetry = self._config_choice(
            "partSymmetry", "part_symmetry", SYMMETRY_CHOICES,
            "Does the part look the same turned or mirrored? The OK images are then also taught turned / mirrored. "
            "Leave it 'Not symmetric' when a part placed the wrong way round must be found.")
        # The light: each image's brightness evened out to the taught images'. Never on by itself: a part
        # uniformly darker or brighter than the taught ones would then be judged on its local differences only.
        self.lighting = self._config_choice(
            "lighting", "brightness", LIGHTING_CHOICES,
            "Does the light change between parts (daylight, ageing lamps)? Each image's brightness (and contrast) "
            "is then brought to the taught images' before it is inspected. Leave it 'Steady light' when a part "
            "that is darker or brighter all over (burnt, wrong coating) must be rejected.")
        # One a row: side by side they made the window 1,571 px wide at least, wider than a line PC's screen.
        # Why this fit: the audit trail keeps it with who made it (the version list's note), as `fit --note` does.
        self.note_edit = QLineEdit()
        self.note_edit.setObjectName("fitNote")
        self.note_edit.setPlaceholderText("why (optional): kept in the audit trail")
        self.note_edit.setToolTip("Why this fit or addition, e.g. 'new supplier batch': the Versions tab and the "
                                  "audit trail keep it with who made it")
        fit_settings = QFormLayout()
        fit_settings.addRow("Part symmetry:", self.symmetry)
        fit_settings.addRow("Light:", self.lighting)
        fit_settings.addRow("Note:", self.note_edit)
        self.result_label = QLabel("No fit yet in this session.")
        self.result_label.setObjectName("fitResult")
        self.result_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.count_label)
        layout.addLayout(fit_settings)
        layout.addLayout(fit_row)
        layout.addWidget(self.result_label)

        self.doc.imagesChanged.connect(self.refresh)
        self.doc.configChanged.connect(self._show_choices)
        self._show_choices(self.doc.config)
        # Another project: nothing of the previous one's fit may stay on this line.
        self.doc.folderChanged.connect(lambda _: self.result_label.setText("No fit yet in this session."))
        session.modelChanged.connect(self._model_changed)
        session.runner.busyChanged.connect(self._busy)
        self.refresh()

    # -- images -------------------------------------------------------------------------------
    def choose_files(self) -> None:
        files = file_dialogs.open_files(self, "Add OK images", IMAGE_FILTER)
        if files:
            self.add_paths(files)

    def choose_folder(self) -> None:
        folder = file_dialogs.open_folder(self, "Add a folder of OK images")
        if folder:
            self.add_paths([folder])

    def add_paths(self, paths) -> None:
        images = image_paths_from(paths)
        if not images:
            messages.error(self, "Add images", "No image files found (" +
                           ", ".join(sorted(inference.IMAGE_SUFFIXES)) + ").")
            return
        bad = []
        for p in images:
            icon = self._icons.get(p) or readable(p)  # decoded once: the check gives the thumbnail
            if icon is None:
                bad.append(p)
            else:
                self._icons[p] = icon
        if bad:
            names = ", ".join(Path(p).name for p in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            messages.error(self, "Add images", f"{len(bad)} file(s) cannot be read as images and were not added: "
                           f"{names}.")
        self.doc.add_images([p for p in images if p not in set(bad)])

    def remove_selected(self) -> None:
        self.doc.remove_images([item.data(Qt.ItemDataRole.UserRole) for item in self.list.selectedItems()])

    def refresh(self) -> None:
        self.list.clear()
        for path in self.doc.ok_images:
            if path not in self._icons:
                self._icons[path] = thumbnail(path)
            item = QListWidgetItem(self._icons[path], Path(path).name)
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            self.list.addItem(item)
        self.count_label.setText(f"{len(self.doc.ok_images)} OK image(s)")
        self._busy(self.session.runner.busy)

    def _new_images(self) -> list[str]:
        model = self.session.model
        if model is None:
            return []
        taught = model.record.taught_names
        return [p for p in self.doc.ok_images if p not in taught]

    def _config_choice(self, name: str, key: str, choices, tooltip: str) -> QComboBox:
        """A combo box that sets the engine setting `key` of the next fit, and follows it when it changes."""
        combo = QComboBox()
        combo.setObjectName(name)
        for value, label in choices:
            combo.addItem(label, value)
        combo.setToolTip(tooltip)
        combo.setProperty("configKey", key)
        # As narrow as the dock is: the list shows each choice whole.
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(16)

        def chosen(_index: int) -> None:
            value = combo.currentData()
            if value and value != getattr(self.doc.config, key):
                self.doc.set_config(self.doc.config.replace(**{key: value}))

        combo.currentIndexChanged.connect(chosen)
        return combo

    def _show_choices(self, config) -> None:
        for combo in (self.symmetry, self.lighting):
            index = combo.findData(getattr(config, combo.property("configKey")))
            if index >= 0 and index != combo.currentIndex():
                combo.blockSignals(True)
                combo.setCurrentIndex(index)
                combo.blockSignals(False)

    # -- fit ----------------------------------------------------------------------------------
    def fit(self) -> None:
        if not self.doc.ok_images:
            messages.error(self, "Fit", "Add at least one OK image first.")
            return
        self.result_label.setText("Fitting…")
        self.session.fit(self._fitted, self._cancelled, self._failed, note=self.note_edit.text().strip())

    def add_to_model(self) -> None:
        new = self._new_images()
        if self.session.model is None:
            messages.error(self, "Add to model", "There is no model yet: press Fit first.")
            return
        if not new:
            messages.error(self, "Add to model", "Every image in the list is already in the model.")
            return
        self.result_label.setText(f"Adding {len(new)} image(s)…")
        self.session.add(new, self._fitted, self._cancelled, self._failed, note=self.note_edit.text().strip())

    def _fitted(self, result: inference.FitResult) -> None:
        text = (f"Model: {result.n_images} image(s), {result.coreset_size} of {result.n_embeddings} patches kept as "
                f"reference, {result.seconds:.1f} s; version {result.version}")
        if not result.active:  # a calibrated version keeps inspecting the line: say so, never silently
            text += (" (staged: the active calibrated version keeps inspecting until this one is calibrated, "
                     "Model > Calibrate…)")
        if result.symmetry_note:  # the OK images contradict the symmetry asked above: say which way
            text += "\n" + result.symmetry_note
        self.result_label.setText(text)

    def _failed(self, exc) -> None:
        # The dialog says what went wrong; the line must not keep saying "Fitting…".
        self.result_label.setText(f"Failed ({describe(exc).splitlines()[0]}): the saved model is unchanged.")

    def _cancelled(self) -> None:
        self.result_label.setText("Cancelled: the saved model is unchanged.")

    def _model_changed(self, model) -> None:
        if model is not None and not self.session.runner.busy:
            r = model.record
            if not self.result_label.text().startswith("Model:"):
                self.result_label.setText(f"Model: {r.n_images} image(s), {r.coreset_size} "
                                          f"of {r.n_embeddings} patches kept as reference")
        self._busy(self.session.runner.busy)

    def _busy(self, busy: bool) -> None:
        self.fit_button.setEnabled(not busy and bool(self.doc.ok_images))
        self.add_button.setEnabled(not busy and self.session.model is not None)
        self.remove_button.setEnabled(not busy and bool(self.list.selectedItems()))
