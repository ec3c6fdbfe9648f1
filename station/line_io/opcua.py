"""The PLC handshake over OPC UA (asyncua server): variables of one `Inspector` object, a thin adapter over
station/line_io/handshake.py (the state machine Modbus shares; docs/plc.md).

Namespace `urn:inspector:line` (index 2 on this server: it is the first one registered); node ids are strings,
`ns=2;s=Inspector.<Name>`:

    Trigger (Boolean, PLC writes)   Busy (Boolean)          ResultReady (Boolean)   Ack (Boolean, PLC writes)
    Verdict (Int32: 1 OK, 2 NG, 3 NOT_FOUND, 4 NO_VERDICT, 5 ERROR)     Score (Double, NaN when not scored)
    PartId (String, PLC writes)     Sequence (UInt32)       ModelVersion (Int32)    Recipe (Int32, PLC writes)
    Alarm (Boolean)                 AlarmText (String)      Ready (Boolean)         Heartbeat (UInt32, +1 a second)
    AlarmBits (UInt32: which alarms, bit i the i-th of station.line_io.alarms.ALARM_NAMES)
    Defects (UInt32: the regions that count)   DefectArea, DefectX, DefectY (Double: the largest one's area, mm^2
    or px, and centre, image px; NaN without one)   DefectZone (Int32: the largest one's inspection zone, 1.. the
    calibration's zones in order, 0 outside them)   DefectLength (Double: its length, mm or px)   MasterCheck (Int32: 0 a
    production part, 1 a master part that got its expected verdict, 2 one that did not)   ErrorCode (Int32: why an
    ERROR is one, station.ErrorCode; 0 for any other verdict)   Cause (String: that ErrorCode by name, no_image;
    empty for any other verdict)   Reason (String: the result's reason in words, as the history row keeps it)

Only Trigger, Ack, PartId and Recipe are writable (others answer BadNotWritable). A PLC write reaches the
handshake through the server's PostWrite callback; the station's changes are written into the address space as
they happen, so a subscription sees them (data change notifications) as well as a read.

Access: anonymous only when the endpoint is a loopback address; on any other address a user list is required
(username and password; anonymous sessions are refused) or the server does not start. Transport: SecurityPolicy
None unless a certificate is given (opcua_security.py), then signed and encrypted endpoints only.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import threading
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

from inference import InspectorError

from ..addresses import elsewhere
from ..tokens import is_loopback
from .handshake import Handshake, HandshakeAdapter, HandshakeState, PlcWriteRefused
from .opcua_security import OpcUaSecurity
from .opcua_security import apply as apply_security
from .refusals import Refusals, times

NAMESPACE = "urn:inspector:line"
OBJECT = "Inspector"
# name, HandshakeState field, OPC UA type, written by the PLC
VARIABLES = (
    ("Trigger", "trigger", "Boolean", True),
    ("Busy", "busy", "Boolean", False),
    ("ResultReady", "result_ready", "Boolean", False),
    ("Ack", "ack", "Boolean", True),
    ("Verdict", "verdict", "Int32", False),
    ("Score", "score", "Double", False),
    ("PartId", "part_id", "String", True),
    ("Sequence", "sequence", "UInt32", False),
    ("ModelVersion", "model_version", "Int32", False),
    ("Recipe", "recipe", "Int32", True),
    ("Alarm", "alarm", "Boolean", False),
    ("AlarmText", "alarm_text", "String", False),
    ("AlarmBits", "alarm_bits", "UInt32", False),
    ("Ready", "ready", "Boolean", False),
    ("Heartbeat", "heartbeat", "UInt32", False),
    ("Defects", "defects", "UInt32", False),
    ("DefectArea", "defect_area", "Double", False),
    ("DefectX", "defect_x", "Double", False),
    ("DefectY", "defect_y", "Double", False),
    ("DefectZone", "defect_zone", "Int32", False),
    ("DefectLength", "defect_length", "Double", False),
    ("MasterCheck", "master_check", "Int32", False),
    ("ErrorCode", "error_code", "Int32", False),
    ("Cause", "cause", "String", False),
    ("Reason", "reason", "String", False),
)

# ResultReady last: a PLC that sees it set reads this result's Verdict, Score and Sequence, never the last one's.
PUSH_ORDER = tuple(v for v in VARIABLES if v[1] != "result_ready") + tuple(v for v in VARIABLES
                                                                          if v[1] == "result_ready")

log = logging.getLogger(__name__)


def node_id(name: str) -> str:
    """The string identifier of a variable (in the namespace NAMESPACE)."""
    return f"{OBJECT}.{name}"




def read_users(path: Path) -> dict[str, str]:
    """`--opcua-users FILE`: one `name:password` a line (# comments, blank lines skipped)."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()  # utf-8-sig: Notepad's byte-order mark
    except (OSError, UnicodeDecodeError) as exc:
        raise InspectorError(f"cannot read the OPC UA user file {path}: {exc}") from None
    users = {}
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, password = line.partition(":")
        if not sep or not name.strip() or len(password) < 8:
            raise InspectorError(f"{path} line {n}: expected name:password (a password of at least 8 characters)")
        users[name.strip()] = password
    if not users:
        raise InspectorError(f"{path} names no user (one name:password a line)")
    return users


class _Users:
    """asyncua user manager: only the listed users (anonymous when none are listed), passwords compared in constant
    time; with a certificate, no session at all over an unsecured channel. Each refusal here is counted and said,
    with who and why (never the password given), in `refusals`. (An anonymous session where users are required is
    refused by asyncua before a user is asked for, as the endpoints offer none: the PLC's client says so.)"""

    def __init__(self, users: dict[str, str], secured: bool = False, refusals: Optional[Refusals] = None):
        self.users, self.secured = users, secured
        self.refusals = refusals if refusals is not None else Refusals("OPC UA")

    def get_user(self, iserver, username=None, password=None, certificate=None):
        from asyncua.crypto.permission_rules import User, UserRole

        # asyncua lets a client open a SecurityPolicy None channel (meant for GetEndpoints) and then activate a
        # session on it even when no None endpoint is offered. Such a channel carries no client certificate,
        # and a secured one always does: refuse it, or the certificate would protect nothing.
        if self.secured and not certificate:  # b"" on a None channel
            return self._refuse(username, "over a channel without security, while this server asks for its "
                                          "certificate (--opcua-cert): connect to its signed and encrypted endpoint")
        if not self.users:
            return User(role=UserRole.User, name="anonymous")
        expected = self.users.get(username or "")
        if expected is None:
            return self._refuse(username, "no such user in --opcua-users")
        given = "" if password is None else (password if isinstance(password, str)
                                             else bytes(password).decode("utf-8", "replace"))
        if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            return self._refuse(username, "wrong password")
        return User(role=UserRole.User, name=username)

    def _refuse(self, username, why: str) -> None:
        name = "".join(c for c in str(username or "") if c.isprintable())[:40]
        who = f"of user {name!r}" if name else "without a user"
        self.refusals.refuse(f"{name}\n{why}", lambda n: f"OPC UA: refused {times(n, 'session')} {who} ({why})")
        return None


class OpcUaServer(HandshakeAdapter):
    """An OPC UA server over a Handshake; the station-side calls (take_trigger, publish_result, ...) are the
    handshake's."""

    protocol = "opcua"  # the metrics' label

    def __init__(self, url: str, handshake: Optional[Handshake] = None, users: Optional[dict[str, str]] = None,
                 security: Optional[OpcUaSecurity] = None):
        u = urlparse(url)
        if u.scheme != "opc.tcp" or not u.hostname or u.port is None:
            raise InspectorError(f"--opcua needs opc.tcp://HOST:PORT (e.g. opc.tcp://127.0.0.1:4840), got {url!r}")
        self.host, self.port = u.hostname, u.port
        self.url = f"opc.tcp://{f'[{self.host}]' if ':' in self.host else self.host}:{self.port}"
        if not users and not is_loopback(self.host):
            raise InspectorError(f"--opcua {url}: {self.host} is reachable from other machines: give --opcua-users "
                                 "FILE (name:password lines; anonymous access is then refused), or bind 127.0.0.1")
        self.users = dict(users or {})
        self.security = security
        # the sessions it refused: counted for the metrics, said where this server's messages go
        self.refusals = Refusals("OPC UA")
        self.refusals.on_message = self._say
        self.handshake = handshake or Handshake()
        self._nodes: dict[str, object] = {}  # field -> Node
        self._types: dict[str, object] = {}  # field -> ua.VariantType
        self._shown: dict[str, object] = {}  # field -> the value last written into the address space
        self._by_node: dict = {}  # NodeId -> field, for the PLC's writes
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._server = None
        self._thread: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._error: Optional[str] = None
        self._push_lock: Optional[asyncio.Lock] = None
        self.namespace_index: Optional[int] = None

    def describe(self) -> str:
        access = f"users from --opcua-users ({len(self.users)})" if self.users else "anonymous (loopback only)"
        if self.security:
            transport = self.security.describe()
        elif self.users and not is_loopback(self.host):
            transport = "SecurityPolicy None: passwords cross the network unencrypted (--opcua-cert, --opcua-key)"
        else:
            transport = "SecurityPolicy None"
        return (f"PLC handshake: OPC UA on {self.url}{elsewhere(self.host, self.port, 'opc.tcp')}, object {OBJECT} "
                f"in {NAMESPACE}, {access}, {transport} (docs/plc.md)")

    def _peers(self) -> list[str]:
        """The PCs holding a connection (asyncua's binary server's clients)."""
        clients = getattr(getattr(self._server, "bserver", None), "clients", None) or []
        return [str(c.peer_name[0]) for c in list(clients) if getattr(c, "peer_name", None)]

    # -- the address space ----------------------------------------------------------------------------------------
    def _on_change(self, state: HandshakeState) -> None:
        """The handshake changed (any thread): write what differs into the address space, in the server's loop."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return
        if threading.current_thread() is self._thread:
            loop.create_task(self._push())
        else:
            asyncio.run_coroutine_threadsafe(self._push(), loop)

    async def _push(self) -> None:
        from asyncua import ua

        async with self._push_lock:  # one push at a time, each with the newest state: the last one wins
            state = self.handshake.state
            for name, fieldname, _, _ in PUSH_ORDER:
                value = getattr(state, fieldname)
                if fieldname == "sequence":
                    value &= 0xFFFFFFFF
                old = self._shown.get(fieldname)
                if old == value or (isinstance(value, float) and isinstance(old, float) and math.isnan(value)
                                    and math.isnan(old)):
                    continue
                self._shown[fieldname] = value
                await self._server.write_attribute_value(
                    self._nodes[fieldname].nodeid, ua.DataValue(ua.Variant(value, self._types[fieldname])))

    async def _on_write(self, event, dispatcher) -> None:
        """The PLC wrote values (the server's PostWrite callback): hand the writable ones to the handshake."""
        if not event.is_external:
            return
        written = {}
        for item, status in zip(event.request_params.NodesToWrite, event.response_params):
            fieldname = self._by_node.get(item.NodeId)
            if fieldname is None or not status.is_good():
                continue
            written[fieldname] = item.Value.Value.Value
        if not written:
            return
        try:
            self.handshake.plc_write(**written)
        except PlcWriteRefused as exc:
            self._say(f"OPC UA: {exc}")
        for fieldname in written:  # what the PLC wrote is in the address space now
            self._shown.pop(fieldname, None)
        await self._push()

    # -- serving ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.handshake.subscribe(self._on_change)
        self._thread = threading.Thread(target=self._serve, name="opcua", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise InspectorError(f"cannot serve OPC UA on {self.url}: {self._error}")

    async def _main(self) -> None:
        from asyncua import Server, ua
        from asyncua.common.callback import CallbackType

        guarded = self.users or self.security
        server = Server(user_manager=_Users(self.users, self.security is not None, self.refusals) if guarded else None)
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("Inspector")
        if self.security:
            await apply_security(server, self.security)  # secured endpoints only: no SecurityPolicy None
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens([ua.UserNameIdentityToken] if self.users else [ua.AnonymousIdentityToken])
        idx = self.namespace_index = await server.register_namespace(NAMESPACE)
        obj = await server.nodes.objects.add_object(ua.NodeId(OBJECT, idx), ua.QualifiedName(OBJECT, idx))
        state = self.handshake.state
        for name, fieldname, kind, writable in VARIABLES:
            vtype = getattr(ua.VariantType, kind)
            value = getattr(state, fieldname)
            node = await obj.add_variable(ua.NodeId(node_id(name), idx), ua.QualifiedName(name, idx), value,
                                          varianttype=vtype)
            if writable:
                await node.set_writable()
            self._nodes[fieldname], self._types[fieldname], self._shown[fieldname] = node, vtype, value
            self._by_node[node.nodeid] = fieldname
        server.subscribe_server_callback(CallbackType.PostWrite, self._on_write)
        self._push_lock = asyncio.Lock()
        await server.start()
        self._links_task = asyncio.get_running_loop().create_task(self._watch_links("OPC UA"))
        self._server = server

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except Exception as exc:  # port taken, bad address: said by start()
            self._error = str(exc) or type(exc).__name__
            self._ready.set()
            loop.close()
            return
        self._loop = loop
        loop.call_soon(self._ready.set)
        loop.call_soon(lambda: loop.create_task(self._push()))  # what changed while it was starting
        loop.run_forever()
        self._stop_watching_links()
        loop.run_until_complete(self._server.stop())
        loop.close()


__all__ = ["NAMESPACE", "OBJECT", "OpcUaServer", "VARIABLES", "node_id", "read_users"]
