"""Who may use the API and the console: an admin sees and does everything; a viewer sees cameras, alerts and answers,
only of the cameras listed for them when a list is given."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    cameras: tuple[str, ...] | None = None  # None: every camera

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_see(self, camera: str) -> bool:
        return self.cameras is None or camera in self.cameras

    def visible(self, cameras: list[str]) -> list[str]:
        return [name for name in cameras if self.may_see(name)]


# No users defined and a loopback bind: the API is as open as a command run on this machine.
LOCAL = User("local", Role.ADMIN)
