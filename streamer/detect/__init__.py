"""Detection (ultralytics YOLO, batched) and tracking (ByteTrack, one per camera)."""
