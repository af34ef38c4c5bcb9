"""The service, started and stopped in one place: `streamer run` parses its flags and hands over here.

Start, in order: where alerts go (Redis, or the embedded server), the health reporter (its spool's lock makes this
the storage folder's only run), camera health and, on a site, this host's share of it, the VLM worker pool, the
API, the integrations, the config watcher, and the supervisor (the engine, one worker per camera, retention).
Stop, in the reverse order, once the supervisor returns: the integrations after the workers' last alerts reached
Redis (so those are delivered too), then the API, the VLM pool (drained), health, and the embedded Redis last."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from streamer.alerts.redis_access import connect
from streamer.alerts.wiring import AlertTarget, resolve_target
from streamer.config import StreamerConfig
from streamer.config.query import ApiConfig
from streamer.runtime.options import WorkerOptions


class ServiceStartError(Exception):
    """The service cannot start as configured (the storage folder in use, an integration that cannot start); the
    message says why. The command line exits with its config status."""


@dataclass(frozen=True)
class ServicePlan:
    config_path: Path
    as_read: StreamerConfig  # the file itself: what a reload compares the file with
    config: StreamerConfig  # with the command line's settings applied
    adjust: Callable[[StreamerConfig], StreamerConfig]  # the command line's settings, applied again on each reload
    cameras: list[str]  # the enabled cameras to run
    only: set[str] | None  # --camera: the others stay off, even after a reload
    api: ApiConfig
    node: str | None  # this host's name on a site
    save_annotated: Path | None = None


def run_service(plan: ServicePlan, say: Callable[[str], None]) -> int:
    """Runs until the supervisor returns (stopped, or every file played); its exit status. `say` tells the person
    who started it where the console is and which host this is."""
    from streamer.runtime.supervisor import Supervisor

    config = plan.config
    target, embedded = resolve_target(config.storage_dir, config.redis)
    health = _hold_storage(config, target, plan.node)
    camera_health, site = _camera_health_and_site(config, target, health, plan.node, say)
    pool = _vlm_pool(plan, target)
    api = _start_api(config, plan.api, target.url, plan.config_path, say)
    integrations = None
    try:
        integrations = _start_integrations(config, target.url, health.take)
        watcher = _watcher(plan, target.url)
        supervisor = Supervisor(
            config,
            _worker_options(plan),
            plan.cameras,
            target,
            health,
            camera_health,
            site,
            watcher,
            on_reloaded=_followers(api, integrations),
            only=plan.only,
        )
        code = supervisor.run()
        watcher.close()
    finally:
        if integrations is not None:
            integrations.stop()  # after the workers' last alerts reached Redis: those are delivered too
        if api is not None:
            api.stop()
        if pool is not None:
            pool.drain_and_stop()
        camera_health.close()
        health.close()
        if embedded is not None:
            embedded.stop()
    return code


def _worker_options(plan: ServicePlan) -> WorkerOptions:
    config = plan.config
    return WorkerOptions(
        models_dir=config.models_dir,
        storage_dir=config.storage_dir,
        min_free_bytes=int(config.storage.min_free),
        timezone=config.timezone,
        stats_interval_s=config.logging.stats_interval_s,
        save_annotated=plan.save_annotated.resolve() if plan.save_annotated else None,
        vlm=config.vlm,
        index_url=config.index.url,
        storage=config.storage,
        share_live=config.site is not None,
    )


def _hold_storage(config: StreamerConfig, target: AlertTarget, node: str | None):
    """The health reporter, whose spool's lock makes this run the storage folder's only one; then the metrics folder
    there, before any process starts (they inherit it)."""
    from streamer import metrics
    from streamer.alerts.health import HealthReporter
    from streamer.alerts.spool import SpoolBusy

    try:
        health = HealthReporter(target.publisher("health"), target.streams, watch_redis=True, node=node)
    except SpoolBusy as error:
        raise ServiceStartError(f"{error}: is another `streamer run` using storage_dir {config.storage_dir}?") from None
    metrics.use_folder(config.storage_dir / "metrics")
    return health


def _camera_health_and_site(config: StreamerConfig, target: AlertTarget, health, node: str | None, say):
    """Camera health alerts (always), and on a site this host's coordinator of leases."""
    from streamer.runtime.camera_health import CameraHealth

    tz = ZoneInfo(config.timezone)

    def client():
        return connect(target.url, config.redis.connect_timeout_s)

    camera_health = CameraHealth(config.health, health.publisher.submit, client, target.streams, tz)
    if config.site is None:
        return camera_health, None
    from streamer.runtime.site_link import SiteLink
    from streamer.site.coordinator import SiteCoordinator

    pins = {name: camera.node for name, camera in config.enabled_cameras().items()}
    coordinator = SiteCoordinator(
        config.site,
        node,
        pins,
        client(),
        config.redis.prefix,
        report=health.take,
    )
    say(f"site: this host is '{node}'")
    return camera_health, SiteLink(coordinator, camera_health, health.publisher.submit, client, target.streams, tz)


def _vlm_pool(plan: ServicePlan, target: AlertTarget):
    """The VLM workers this run starts itself (vlm.workers), or None."""
    vlm = plan.config.vlm
    if vlm is None or not vlm.workers:
        return None
    from streamer.vlm.pool import WorkerPool

    config = plan.config
    return WorkerPool(plan.config_path.resolve(), vlm, target.url, config.redis.prefix, config.logging.format)


def _watcher(plan: ServicePlan, redis_url: str):
    """The config read again when the file changes, on SIGHUP, or on an admin's POST /config/reload."""
    from streamer.detect.model_checks import MODEL_CHECKS
    from streamer.runtime.reload import ConfigWatcher

    as_read = plan.as_read
    return ConfigWatcher(
        plan.config_path.resolve(), as_read, MODEL_CHECKS, redis_url, as_read.redis.prefix, plan.adjust
    )


def _start_api(config: StreamerConfig, settings: ApiConfig, redis_url: str, config_path: Path, say):
    """The question API beside the cameras (api.enabled); None when it is off or could not listen."""
    if not settings.enabled:
        return None
    from streamer.api.app import create_app
    from streamer.api.server import ApiServer
    from streamer.query.service import QueryService

    server = ApiServer(create_app(QueryService(config), settings, redis_url, config_path.resolve()), settings)
    if not server.start():
        return None
    say(f"console: {server.url}/  (the API: {server.url}/docs)")
    return server


def _followers(api, integrations):
    """What follows a reload in this process: the API's camera list, the integrations (each changed one restarts)."""

    def follow(config: StreamerConfig) -> None:
        if api is not None:
            api.follow_config(config)
        integrations.reload(config)

    return follow


def _start_integrations(config: StreamerConfig, redis_url: str, report):
    """The config's integrations as consumer groups beside the cameras; their groups exist before any alert. Their
    receivers' states go to the health stream through `report`. A runner even with none: a reload may add one."""
    from streamer.integrations.runner import IntegrationError, IntegrationRunner

    runner = IntegrationRunner(config, redis_url, report=report)
    try:
        runner.start()
    except IntegrationError as error:
        runner.stop(drain_s=0)
        raise ServiceStartError(str(error)) from None
    return runner
