"""Who works at the window, shown and enforced: the sign-in state (station/sign_in.py) as a Qt object, the status
bar's "operator · Sign in…" button, the sign-in dialog, and the sign-out after minutes without a key or a click.

Without a users file the guard lets everything through under the OS user's name, as before. With one, the window
starts as the operator; what the one at the window may not do is disabled (the window listens to `changed`), and
the session refuses it too (`refuse`), so a button missed here still cannot change a model."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QToolButton, QVBoxLayout,
    QWidget,
)

from inference import InspectorError
from station.sign_in import SignIn, SignInRefused, read_users

from . import messages

SIGN_OUT_AFTER_MIN = 15  # a person who walks away leaves the operator's rights behind, not theirs
INPUT_EVENTS = (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel)


class AccessGuard(QObject):
    changed = Signal()  # signed in or out

    def __init__(self, sign_in: Optional[SignIn] = None, parent: QObject | None = None,
                 sign_out_after_min: float = SIGN_OUT_AFTER_MIN):
        super().__init__(parent)
        self.state = sign_in or SignIn(None)
        self.idle = QTimer(self)
        self.idle.setSingleShot(True)
        self.idle.setInterval(int(sign_out_after_min * 60_000))
        self.idle.timeout.connect(self._timed_out)
        self.last_sign_out_reason = ""
        app = QApplication.instance()
        if app is not None and self.state.required:
            app.installEventFilter(self)

    @property
    def required(self) -> bool:
        return self.state.required

    @property
    def who(self) -> str:
        return self.state.who

    def may(self, permission: str) -> bool:
        return self.state.may(permission)

    def refuse(self, parent: QWidget | None, title: str, permission: str) -> bool:
        """True (and a message saying who may) when the one at the window may not; False when they may."""
        if self.may(permission):
            return False
        messages.error(parent, title, self.state.refusal(permission))
        return True

    def sign_in(self, name: str, password: str) -> None:
        """Sign a person in (SignInRefused saying why, the one before staying)."""
        self.state.sign_in(name, password)
        self.last_sign_out_reason = ""
        self.idle.start()
        self.changed.emit()

    def sign_out(self, reason: str = "") -> None:
        if not self.state.signed_in:
            return
        self.state.sign_out()
        self.idle.stop()
        self.last_sign_out_reason = reason
        self.changed.emit()

    def _timed_out(self) -> None:
        self.sign_out(f"signed out after {self.idle.interval() // 60_000} minutes without a key or a click")

    def eventFilter(self, watched, event) -> bool:
        if self.state.signed_in and event.type() in INPUT_EVENTS:
            self.idle.start()  # any key or click anywhere in the application keeps the person signed in
        return False

    def names(self) -> list[str]:
        """The people who may sign in, for the dialog's list ([] when the file cannot be read: a try says why)."""
        try:
            return list(read_users(self.state.path))
        except InspectorError:
            return []


class SignInDialog(QDialog):
    """Name and password; a refusal is said in the dialog, which stays open for another try."""

    def __init__(self, guard: AccessGuard, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("signInDialog")
        self.setWindowTitle("Sign in")
        self.guard = guard
        self.name_box = QComboBox()
        self.name_box.setObjectName("signInName")
        self.name_box.setEditable(True)
        self.name_box.addItems(guard.names())
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("signInPassword")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.message = QLabel("")
        self.message.setObjectName("signInMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color:#a00000;")
        form = QFormLayout()
        form.addRow("Name", self.name_box)
        form.addRow("Password", self.password_edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.try_sign_in)
        buttons.rejected.connect(self.reject)
        column = QVBoxLayout(self)
        column.addWidget(QLabel(f"Sign in to teach, calibrate, activate or review (users file: {guard.state.path})."))
        column.addLayout(form)
        column.addWidget(self.message)
        column.addWidget(buttons)
        self.password_edit.setFocus()

    def try_sign_in(self) -> bool:
        try:
            self.guard.sign_in(self.name_box.currentText(), self.password_edit.text())
        except SignInRefused as exc:
            self.message.setText(str(exc)[0].upper() + str(exc)[1:] + ".")
            self.password_edit.clear()
            return False
        self.accept()
        return True


class SignInButton(QToolButton):
    """The status bar's "who, and Sign in… / Sign out": hidden where no users file is in force."""

    def __init__(self, guard: AccessGuard, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("signInButton")
        self.guard = guard
        self.clicked.connect(self._clicked)
        guard.changed.connect(self.refresh)
        self.setVisible(guard.required)
        self.refresh()

    def refresh(self) -> None:
        g = self.guard
        if g.state.signed_in:
            self.setText(f"{g.who} ({', '.join(g.state.caller.roles)}) · Sign out")
            self.setToolTip(f"Signed in as {g.who}; signed out after {g.idle.interval() // 60_000} minutes "
                            "without a key or a click")
        else:
            self.setText("Operator · Sign in…")
            self.setToolTip(g.last_sign_out_reason.capitalize() or
                            "Run the line and inspect; sign in to teach, calibrate, activate or review")

    def _clicked(self) -> None:
        if self.guard.state.signed_in:
            self.guard.sign_out()
        else:
            SignInDialog(self.guard, self.window()).exec()
