"""One host's part in the site, on a thread of `streamer run`'s supervisor process: every `renew_every_s` it says
the host is alive, works out which cameras are its share (`assign`), renews the leases it holds, takes the leases
of its share that nobody holds, and gives back the ones that are no longer its share once their worker stopped.

The supervisor asks `running()` which cameras to run (each with the lease value its writes are fenced with) and
says `stopped(camera)` when a worker of a camera it no longer runs has ended. A camera taken from a host that died
(not handed over) is reported through `on_takeover`, with when that host was last heard of.

Redis unreachable: the host keeps running what it holds (it cannot tell a dead Redis from a cut link, and the
other hosts cannot take anything from it while Redis is down for them too); when it comes back and a lease has
meanwhile gone to another host, the renewal fails, the camera stops here, and the fencing has refused its writes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import redis

from streamer.config.site import SiteConfig
from streamer.core.health import HealthChange, HealthListener
from streamer.site.assign import assign
from streamer.site.leases import Acquired, Leases
from streamer.site.membership import Membership

log = logging.getLogger("streamer.site")


@dataclass(frozen=True)
class Takeover:
    camera: str
    from_node: str
    silent_since_ts: float  # when the dead host was last heard of: the camera has been down since then


class SiteCoordinator:
    def __init__(
        self,
        config: SiteConfig,
        node: str,
        pins: Mapping[str, str | None],
        client,
        prefix: str,
        on_takeover: Callable[[Takeover], None] = lambda _t: None,
        report: HealthListener | None = None,
    ):
        self.config = config
        self.node = node
        self.pins = dict(pins)
        self.membership = Membership(client, prefix, node, config.lease_s)
        self.leases = Leases(client, prefix, node, config.lease_s)
        self.on_takeover = on_takeover
        self.on_health = report
        self._held: dict[str, Acquired] = {}
        self._mine: set[str] = set()
        self._to_release: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._leaving = False
        self._reachable = True
        self._own_silence: float | None = None  # when an earlier run of this host was last heard of, if it died
        self._looked_back = False
        self._thread = threading.Thread(target=self._run, name="site", daemon=True)

    # -- the supervisor's side --------------------------------------------------------------------------------
    def start(self) -> None:
        """The first share is worked out before any worker starts; with Redis unreachable, no camera runs until it
        answers (which ones are this host's cannot be known without it)."""
        try:
            self.tick()
        except redis.RedisError as error:
            self._reachable = False
            log.warning("site: redis unreachable at start; no camera runs until it answers (%s)", error)
            self._report("site", "down", f"redis unreachable at start: {error}")
        self._thread.start()

    def running(self) -> dict[str, str]:
        """camera → lease value: the cameras this host runs now."""
        with self._lock:
            return {camera: acquired.value for camera, acquired in self._held.items() if camera in self._mine}

    def held(self) -> set[str]:
        """The cameras whose lease this host holds (some may be stopping: no longer its share)."""
        with self._lock:
            return set(self._held)

    def set_pins(self, pins: Mapping[str, str | None]) -> None:
        """The site's cameras changed (a reloaded config): the next tick assigns the new set."""
        with self._lock:
            self.pins = dict(pins)

    def stopped(self, camera: str) -> None:
        """A worker of a camera this host no longer runs has ended: its lease is given back at the next tick."""
        with self._lock:
            if camera in self._held and camera not in self._mine:
                self._to_release.add(camera)

    def leave(self) -> None:
        """A clean stop begins: the host leaves the site at once, so the others work out their new shares while its
        workers stop; it keeps renewing what it holds until `stop` hands it over."""
        self._leaving = True
        try:
            self.membership.leave()
        except redis.RedisError as error:
            log.warning("could not leave the site (the others notice in %g s): %s", self.config.lease_s, error)

    def stop(self) -> None:
        """After every worker stopped: hand every camera over (the next holder knows it was no failure)."""
        self._leaving = True
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10.0)
        with self._lock:
            held, self._held = dict(self._held), {}
        try:
            for camera, acquired in held.items():
                self.leases.release(camera, acquired.value)
            self.membership.leave()
            if held:
                log.info("cameras handed over", extra={"fields": {"node": self.node, "cameras": sorted(held)}})
        except redis.RedisError as error:
            log.warning("could not hand the cameras over (their leases expire in %g s): %s", self.config.lease_s, error)
        finally:
            self.leases.client.close()

    # -- the thread ---------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self.config.renew_every_s):
            try:
                self.tick()
                if not self._reachable:
                    self._reachable = True
                    self._report("site", "up", "redis reachable again; leases renewed")
            except redis.RedisError as error:
                if self._reachable:
                    self._reachable = False
                    log.warning("site: redis unreachable; running the cameras held (%s)", error)
                    self._report("site", "down", f"redis unreachable: {error}; the cameras held keep running")
            except Exception:  # a bug here must not stop the leases' renewal for good
                log.exception("site tick failed")

    def tick(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if self._leaving:
            self._renew_only()
            return
        if not self._looked_back:  # still listed before its first beat: its last run did not leave cleanly
            self._own_silence = self.membership.seen(self.node)
            self._looked_back = True
        with self._lock:
            held = dict(self._held)
            releasing, self._to_release = self._to_release, set()
        self.membership.beat(now, sorted(held))
        live = self.membership.live(now) | {self.node}
        owners = assign(self.pins, live)
        mine = {camera for camera, node in owners.items() if node == self.node}
        for camera in releasing:
            if self.leases.release(camera, held.pop(camera).value):
                self._report(camera, "handed_over", f"to {owners.get(camera) or 'no live host'}")
        for camera in list(held):
            if not self.leases.renew(camera, held[camera].value):
                held.pop(camera)
                log.error("lease lost: another host runs the camera now", extra={"fields": {"camera": camera}})
                self._report(camera, "lease_lost", "another host holds its lease; stopping it here")
        takeovers = []
        for camera in sorted(mine - set(held)):
            acquired = self.leases.acquire(camera, now)
            if acquired is None:
                continue  # its holder has not handed it over yet (it does once its worker stopped)
            held[camera] = acquired
            takeover = self._takeover(camera, acquired, live)
            self._report(
                camera,
                "acquired",
                f"lease {acquired.token}"
                + (f", from {takeover.from_node}, silent since {takeover.silent_since_ts:.3f}" if takeover else ""),
            )
            if takeover is not None:
                takeovers.append(takeover)
        with self._lock:
            self._held = held
            self._mine = mine
        for takeover in takeovers:
            self.on_takeover(takeover)

    def _renew_only(self) -> None:
        with self._lock:
            held = dict(self._held)
        for camera, acquired in held.items():
            self.leases.renew(camera, acquired.value)

    def _takeover(self, camera: str, acquired: Acquired, live: set[str]) -> Takeover | None:
        """Whether the camera comes from a host that died: one that held it before, did not hand it over and is not
        alive; or this host's own earlier run, killed before it left (its lease may still be running)."""
        if not acquired.fresh or acquired.previous_node == self.node:
            return Takeover(camera, self.node, self._own_silence) if self._own_silence is not None else None
        before = acquired.previous_node
        if before is None or self.leases.handed_over(camera, acquired.previous) or before in live:
            return None
        seen = self.membership.seen(before)
        if seen is None:
            return None  # it left the site cleanly (a stop that could not release, or long ago)
        return Takeover(camera, before, seen)

    def _report(self, subject: str, state: str, reason: str) -> None:
        """On the health stream as component `site`: a camera's lease (subject: the camera) or the site's Redis."""
        if self.on_health is not None:
            self.on_health(HealthChange(subject, "site", state, reason))
