"""Who may do what: the permissions the clients ask for, the roles that grant them, and a caller.

One vocabulary for every client, so that "engineer" means the same to the service's tokens file
(inspector_service/access.py: a token per program) and to the window's users file (station/sign_in.py: a password
per person). A caller's name is what the audit trail and the review marks record.

    caller = Caller("ana", parse_roles("line,review", where="users file, line 3"))
    caller.may("teach")  # False
"""

from __future__ import annotations

from dataclasses import dataclass

from inference import InspectorError

# What a use case asks for, and what each permission lets a caller do (the refusal's words).
PERMISSIONS = {
    "read": "read the service's state, projects, versions, audit trail, history and metrics",
    "inspect": "inspect images (each a history row)",
    "review": "mark inspections as false rejects or false accepts",
    "backup": "download a project's backup (the whole model)",
    "teach": "teach, calibrate, switch versions, restore a backup as a new project or cancel fit jobs",
}
ROLES = {
    "read": frozenset({"read"}),  # the MES, dashboards, Prometheus
    "line": frozenset({"read", "inspect"}),  # the line's software, the PLC gateway, the operator at the window
    "review": frozenset({"read", "review"}),  # a rework or review station, the technician
    "backup": frozenset({"read", "backup"}),  # IT's nightly backup job
    "engineer": frozenset(PERMISSIONS),  # everything
}


@dataclass(frozen=True)
class Caller:
    """Who asks: the name the audit trail gives their changes, and their roles."""

    name: str
    roles: tuple[str, ...]

    @property
    def permissions(self) -> frozenset:
        return frozenset().union(*(ROLES[r] for r in self.roles))

    def may(self, permission: str) -> bool:
        assert permission in PERMISSIONS, permission
        return permission in self.permissions


def roles_granting(permission: str) -> str:
    """The roles that grant `permission`, as a refusal names them: "review, engineer"."""
    return ", ".join(r for r, granted in ROLES.items() if permission in granted)


def parse_roles(text: str, where: str) -> tuple[str, ...]:
    """ROLES as a file writes them ("line,review"); InspectorError naming `where` for an unknown or empty one."""
    roles = tuple(r for r in text.lower().split(",") if r)
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise InspectorError(f"{where}: unknown role {', '.join(unknown) or '(none)'}; roles are {', '.join(ROLES)}")
    return roles
