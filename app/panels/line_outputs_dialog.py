"""The Run view's outputs (Outputs…): where each result goes besides the PLC and MQTT, the OPC UA endpoint's
certificates and the coils of a remote I/O module, as `inspector run`'s --post, --metrics, --metrics-tokens,
--display, --display-tokens, --modbus-float, --opcua-cert / --opcua-key / --opcua-trust and --io / --io-reject /
--io-ok / --io-alarm / --io-ready / --io-trigger set them. The values are kept with the run's other fields
(run/<key> in the window's QSettings) and checked with them at Start (app/run_setup.py)."""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout,
    QWidget,
)

# The values, in the Run view's field names (run_setup's), and what each is called in its messages.
KEYS = ("post", "metrics", "metrics_tokens", "display", "display_tokens", "modbus_float", "opcua_cert", "opcua_key",
        "opcua_trust", "io", "io_reject", "io_ok", "io_alarm", "io_ready", "io_trigger")
NAMES = {"opcua": "The OPC UA endpoint", "users": "The OPC UA users file", "cert": "The OPC UA certificate",
         "key": "The OPC UA key", "trust": "The OPC UA trust folder"}
IO_NAMES = {"io": "The remote I/O module", "reject": "The reject coil", "ok": "The OK coil",
            "alarm": "The alarm coil", "ready": "The ready coil", "trigger": "The photo-eye input"}


def default_values() -> dict:
    return {key: "" for key in KEYS}


def summary(values: dict) -> str:
    """The outputs in one line (the Outputs… button's tooltip)."""
    parts = [f"results POSTed to {values['post']}" if values.get("post") else "no POST",
             f"metrics on {values['metrics']}" if values.get("metrics") else "no metrics",
             f"line display on {values['display']}" if values.get("display") else "no line display",
             "OPC UA secured with a certificate" if values.get("opcua_cert") else "OPC UA without a certificate",
             f"outputs on {values['io']}" if values.get("io") else "no remote I/O"]
    return "; ".join(parts)


class LineOutputsDialog(QDialog):
    def __init__(self, values: dict, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("lineOutputsDialog")
        self.setWindowTitle("Outputs")
        self.setMinimumWidth(520)
        self.edits: dict[str, QLineEdit] = {}
        form = QFormLayout()
        form.addRow("POST each result to", self._edit(
            "post", values, "http://mes.local/api/results (optional)",
            "Each result as JSON to this URL; results wait in the history's outbox while it does not answer, and "
            "are sent in order after (docs/plc.md)"))
        form.addRow("Metrics on", self._edit(
            "metrics", values, "HOST:PORT for Prometheus (optional), e.g. 0.0.0.0:9100",
            "Serve the line's Prometheus metrics (counts, latency, alarms) at http://HOST:PORT/metrics while the "
            "run goes on"))
        form.addRow("Its tokens file", self._with_browse(self._edit(
            "metrics_tokens", values, "tokens.txt (optional): who may read the metrics",
            "Only the callers of this tokens file (as inspector serve --token-file) read the metrics: Prometheus "
            "sends one as a bearer token (authorization: credentials_file in its scrape config)"), self._choose_file))
        form.addRow("Line display on", self._edit(
            "display", values, "HOST:PORT for the station's monitor (optional), e.g. 0.0.0.0:8080",
            "Serve a page for a monitor at the station at http://HOST:PORT/ while the run goes on: the last part "
            "with its heatmap and verdict, this shift's counts and yield, the alarms (read-only)"))
        form.addRow("Its tokens file", self._with_browse(self._edit(
            "display_tokens", values, "tokens.txt (optional): who may see the parts",
            "Only the callers of this tokens file (as inspector serve --token-file) see the display's parts; open it "
            "as http://HOST:PORT/#token=TOKEN"), self._choose_file))
        form.addRow("Modbus floats", self._edit(
            "modbus_float", values, "ABCD (high word first, the default) or CDAB",
            "The word order of the Modbus float32 registers (Score, DefectArea, ...): CDAB, low word first, as "
            "Schneider / Modicon PLCs read a REAL from two registers"))
        form.addRow("OPC UA certificate", self._with_browse(self._edit(
            "opcua_cert", values, "inspector_opcua_cert.der (optional)",
            "Secure the OPC UA endpoint (Basic256Sha256, sign and encrypt) with this certificate; "
            "`inspector opcua-cert FOLDER` makes one"), self._choose_file))
        form.addRow("Its private key", self._with_browse(self._edit(
            "opcua_key", values, "inspector_opcua_key.pem", "The certificate's private key (PEM)"), self._choose_file))
        form.addRow("Trusted clients", self._with_browse(self._edit(
            "opcua_trust", values, "folder of the PLCs' certificates (optional)",
            "Only clients whose certificate is in this folder may connect"), self._choose_folder))
        form.addRow("Remote I/O module", self._edit(
            "io", values, "modbus://HOST:502 (optional: a line without a PLC)",
            "A remote I/O module (Modbus TCP) whose coils the station drives itself: the reject gate, a tower "
            "light (docs/plc.md)"))
        form.addRow("Reject coil", self._edit(
            "io_reject", values, "COIL[:MS][@AT_MS], e.g. 0:200 or 0:200@800",
            "Pulsed for every part that is not OK: NG, NOT_FOUND, ERROR, NO_VERDICT (default 200 ms); at once, or "
            "AT_MS after the part's trigger, when it is in front of a gate downstream"))
        form.addRow("OK coil", self._edit("io_ok", values, "COIL[:MS][@AT_MS] (optional)", "Pulsed for every OK part"))
        form.addRow("Alarm coil", self._edit("io_alarm", values, "COIL (optional)", "On while any alarm is active"))
        form.addRow("Ready coil", self._edit("io_ready", values, "COIL (optional)", "On while the run inspects"))
        form.addRow("Photo-eye input", self._edit(
            "io_trigger", values, "INPUT[:DELAY_MS[:GAP_MS]] (optional), e.g. 0:40",
            "A part-present sensor on this input triggers the parts where no PLC does: each rising edge is a part, "
            "judged on the first camera frame that began DELAY_MS after it (docs/plc.md)"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        note = QLabel("Checked at Start with the run's other fields; Copy command gives them as inspector run's "
                      "flags.")
        note.setWordWrap(True)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _edit(self, key: str, values: dict, placeholder: str, tip: str) -> QLineEdit:
        edit = QLineEdit(str(values.get(key, "") or ""))
        edit.setObjectName(f"output_{key}")
        edit.setPlaceholderText(placeholder)
        edit.setToolTip(tip)
        self.edits[key] = edit
        return edit

    def _with_browse(self, edit: QLineEdit, choose: Callable[[QLineEdit], None]) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        button = QPushButton("Choose…")
        button.clicked.connect(lambda: choose(edit))
        row.addWidget(button)
        return row

    def _choose_file(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(self, edit.toolTip().split(";")[0], edit.text())
        if path:
            edit.setText(path)

    def _choose_folder(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, edit.toolTip(), edit.text())
        if folder:
            edit.setText(folder)

    def values(self) -> dict:
        return {key: edit.text().strip() for key, edit in self.edits.items()}
