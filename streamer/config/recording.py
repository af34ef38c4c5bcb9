"""Recording sections of the YAML: `record:` per camera (what to keep) and `storage:` (how much disk, and where:
the local disk, or an S3-compatible object store behind it)."""

from __future__ import annotations

import enum

from pydantic import ByteSize, Field, field_validator, model_validator

from streamer.config.base import StrictModel, check_url_form


class RecordMode(str, enum.Enum):
    CONTINUOUS = "continuous"  # every segment, kept for retain_days
    EVENTS = "events"  # only segments that overlap an event ± pre/post roll
    OFF = "off"  # nothing recorded; alerts carry clip: null


class RecordConfig(StrictModel):
    mode: RecordMode = RecordMode.CONTINUOUS
    segment_s: float = Field(10.0, ge=1.0, le=600.0, description="Target segment length; cut at the next keyframe.")
    pre_roll_s: float = Field(
        5.0, ge=0.0, le=300.0, description="Event clips (and `events` mode) start this much earlier."
    )
    post_roll_s: float = Field(5.0, ge=0.0, le=300.0, description="…and end this much later.")
    retain_days: float = Field(7.0, gt=0, le=3650, description="Segments older than this are deleted.")
    event_retain_days: float = Field(30.0, gt=0, le=3650, description="Segments overlapping an event, and event clips.")
    max_gap_s: float = Field(
        2.0, gt=0, le=60.0, description="A PTS jump forward larger than this (or any jump back) starts a new segment."
    )

    @model_validator(mode="after")
    def _events_kept_longer(self) -> "RecordConfig":
        if self.event_retain_days < self.retain_days:
            raise ValueError(
                f"event_retain_days ({self.event_retain_days:g}) must be at least retain_days ({self.retain_days:g})"
            )
        return self


class ObjectStoreConfig(StrictModel):
    """How to reach the object store. Each field omitted is taken as any AWS client takes it: AWS_ENDPOINT_URL,
    AWS_REGION / AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, ~/.aws, an instance role."""

    endpoint_url: str | None = Field(
        None, description="http(s)://host:port of MinIO, Ceph, R2…; omitted: AWS S3 (or AWS_ENDPOINT_URL)."
    )
    region: str | None = Field(None, description="e.g. eu-central-1; omitted: AWS_REGION, else us-east-1.")
    access_key_id: str | None = Field(None, description="${ENV} please; omitted: the AWS client's own lookup.")
    secret_access_key: str | None = Field(None, description="${ENV} please.")
    local_keep_h: float = Field(
        1.0,
        ge=0,
        le=24 * 365,
        description="A file uploaded is kept on the local disk this "
        "long too (clips cut from it then read no network), then deleted there.",
    )
    timeout_s: float = Field(10.0, gt=0, le=300, description="Connect and read timeout of each request.")

    @field_validator("endpoint_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value if value is None else check_url_form(value, needs_host=True)


class StorageConfig(StrictModel):
    url: str | None = Field(
        None,
        description="s3://bucket/prefix: recordings, event clips, snapshots and VLM frames go to this "
        "S3-compatible bucket (recorded to the local disk first, each file uploaded once finished). Omitted: the "
        "local storage_dir only.",
    )
    s3: ObjectStoreConfig = ObjectStoreConfig()
    max_size: ByteSize | None = Field(
        None,
        description="Disk budget for recordings and event clips, e.g. '200GB'; oldest deleted first. None: no cap.",
    )
    min_free: ByteSize = Field(
        ByteSize(1 << 30), description="Recorders pause (and report on the health stream) below this much free disk."
    )
    retention_every_s: float = Field(60.0, ge=1.0, le=86_400, description="How often retention runs.")
    cuts_max_size: ByteSize = Field(
        ByteSize(1 << 30),
        description="Clips cut on demand for playback and answers (the console's timeline, a hit's "
        "clip) are kept up to this size for the next viewer, the least recently played "
        "deleted first; they count in max_size and go first when it is reached.",
    )
    cuts_max_age_h: float = Field(
        24.0, gt=0, le=24 * 365, description="…and a cut not played for this long is deleted."
    )

    @field_validator("url")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith("s3://") or not value[5:].split("/", 1)[0]:
            raise ValueError("must be s3://bucket or s3://bucket/prefix")
        return value.rstrip("/")

    @property
    def bucket(self) -> str | None:
        return self.url[5:].split("/", 1)[0] if self.url else None

    @property
    def prefix(self) -> str:
        """The keys' common start ('' or 'site-a/'): a file's key is the prefix and its path in storage_dir."""
        rest = self.url[5:].split("/", 1)[1:] if self.url else []
        return rest[0].strip("/") + "/" if rest and rest[0].strip("/") else ""
