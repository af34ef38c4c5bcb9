"""The object store through boto3, the client that talks to AWS S3, MinIO, Ceph and R2 alike. Keys are the
configured prefix and a file's path inside storage_dir, so a file has one name everywhere."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from streamer.config.recording import StorageConfig


class ObjectStoreError(RuntimeError):
    """The object store could not be reached or refused (the message says which)."""


@dataclass(frozen=True)
class ObjectRange:
    body: BinaryIO  # the bytes asked for, to read in chunks
    start: int
    end: int  # inclusive
    total: int  # the whole object's size


class ObjectStore:
    def __init__(self, storage: StorageConfig):
        import boto3
        from botocore.config import Config

        s3 = storage.s3
        self.bucket = storage.bucket
        self.prefix = storage.prefix
        self.url = storage.url
        retries = {"max_attempts": 2, "mode": "standard"}  # the uploader retries on its own, with backoff
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=s3.endpoint_url,
            region_name=s3.region,
            aws_access_key_id=s3.access_key_id,
            aws_secret_access_key=s3.secret_access_key,
            config=Config(
                connect_timeout=s3.timeout_s,
                read_timeout=s3.timeout_s,
                retries=retries,
                s3={"addressing_style": "path"},
            ),
        )  # MinIO and most self-hosted stores want path style

    def key(self, relative: str) -> str:
        return self.prefix + relative

    def put_file(self, relative: str, path: Path) -> None:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        with self._errors(f"upload of {relative}"):
            self.client.upload_file(str(path), self.bucket, self.key(relative), ExtraArgs={"ContentType": content_type})

    def size(self, relative: str) -> int | None:
        """The object's size, or None when there is none."""
        from botocore.exceptions import ClientError

        try:
            with self._errors(f"looking up {relative}", passing=ClientError):
                return int(self.client.head_object(Bucket=self.bucket, Key=self.key(relative))["ContentLength"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise ObjectStoreError(f"looking up {relative}: {error}") from None

    def read_range(self, relative: str, start: int = 0, end: int | None = None) -> ObjectRange:
        """Bytes start..end (inclusive; None: to the end) of the object: one ranged GET, nothing more read."""
        span = f"bytes={start}-{'' if end is None else end}"
        with self._errors(f"reading {relative}"):
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(relative), Range=span)
        first, last, total = _content_range(answer.get("ContentRange"), int(answer["ContentLength"]), start)
        return ObjectRange(answer["Body"], first, last, total)

    def download(self, relative: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        with self._errors(f"download of {relative}"):
            self.client.download_file(self.bucket, self.key(relative), str(partial))
        partial.replace(path)

    def presigned_url(self, relative: str, expires_s: int = 900) -> str:
        """An HTTP URL of the object that PyAV (FFmpeg) reads with range requests, seeking as in a file."""
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.key(relative)}, ExpiresIn=expires_s
        )

    def delete(self, relative: str) -> None:
        with self._errors(f"deleting {relative}"):
            self.client.delete_object(Bucket=self.bucket, Key=self.key(relative))

    def ensure_bucket(self) -> None:
        """Make the bucket when it is not there (a test store, a new MinIO); an existing one is left as it is."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            with self._errors(f"making bucket {self.bucket}"):
                self.client.create_bucket(Bucket=self.bucket)

    def _errors(self, what: str, passing: type[BaseException] | tuple = ()):
        return _Translated(what, passing)


class _Translated:
    """botocore's errors (and the sockets' under them) as ObjectStoreError naming what was being done."""

    def __init__(self, what: str, passing):
        self.what = what
        self.passing = passing

    def __enter__(self):
        return self

    def __exit__(self, kind, error, _tb):
        from botocore.exceptions import BotoCoreError, ClientError

        if error is None or (self.passing and isinstance(error, self.passing)):
            return False
        if isinstance(error, (BotoCoreError, ClientError, OSError)):
            raise ObjectStoreError(f"{self.what}: {error}") from error
        return False


def _content_range(header: str | None, length: int, start: int) -> tuple[int, int, int]:
    """(first, last, total) from 'bytes 0-99/1234'; a store that ignored the range sent it all."""
    if header and header.startswith("bytes ") and "/" in header:
        span, total = header[6:].split("/", 1)
        first, last = span.split("-", 1)
        return int(first), int(last), int(total)
    return 0, length - 1, length
