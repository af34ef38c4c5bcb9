"""Media files (segments, event clips, snapshots, VLM frames) on the local disk and, with `storage.url`, in an
S3-compatible object store: the local copy is written first and uploaded once finished (outbox.py, uploader.py);
readers take the local copy while it is there and the object otherwise (files.py)."""
