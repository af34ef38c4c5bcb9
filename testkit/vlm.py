"""Building VLM jobs from real frames (decoded from a video with PyAV, or drawn), and running a VLM worker
in-process against a real Redis."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import redis

from streamer.alerts import deliver_script
from streamer.alerts.direct import AlertWriter
from streamer.alerts.payload import AlertPayload
from streamer.alerts.streams import StreamNames
from streamer.config.redis import RedisConfig
from streamer.config.vlm import VlmConfig
from streamer.vlm.backends.scripted import ScriptedTestDouble
from streamer.vlm.job import JobFrame, JobKind, TrackBox, VlmJob
from streamer.vlm.queue import JobQueue
from streamer.vlm.worker import VlmWorker

WINDOW_START = 1795251600.0  # 2026-11-21T09:00:00Z
MODEL_WH = (504, 224)
FRAME_WH = (640, 272)
PERSON_A = TrackBox(7, "person", (100.0, 50.0, 180.0, 250.0))
PERSON_B = TrackBox(9, "person", (400.0, 60.0, 470.0, 260.0))


def video_frames(video: Path, count: int, size=MODEL_WH, every: int = 12) -> list[np.ndarray]:
    """`count` real frames, every `every`-th of the video, resized as the sampler stores them."""
    images = []
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % every == 0:
                images.append(cv2.resize(frame.to_ndarray(format="bgr24"), size, interpolation=cv2.INTER_AREA))
            if len(images) == count:
                break
    return images


def text_frames(text: str, count: int, size=MODEL_WH) -> list[np.ndarray]:
    """A plain scene with `text` written across it, as a sign or a caption would be."""
    frames = []
    for index in range(count):
        image = np.full((size[1], size[0], 3), 90, np.uint8)
        cv2.rectangle(image, (40 + index * 4, 120), (90 + index * 4, 215), (30, 30, 200), -1)
        cv2.putText(image, text, (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        frames.append(image)
    return frames


def alert_json(
    event_id: str, state: str = "new", type_: str = "fall", start: float = WINDOW_START + 2.0, end: float | None = None
) -> str:
    from streamer.core.timefmt import iso_time

    return AlertPayload(
        event_id=event_id,
        camera="lobby",
        type=type_,
        state=state,
        label="person",
        track_id=7,
        start_ts=start,
        start_iso=iso_time(start),
        end_ts=end,
        end_iso=None if end is None else iso_time(end),
        confidence=0.8,
        bbox_xyxy=PERSON_A.xyxy,
        frame_wh=FRAME_WH,
        verification="pending",
        risk_level=None,
        description=None,
        snapshot=f"snapshots/lobby/2026-11-21/{event_id}.jpg",
        clip=None,
        source={"rule": type_, "model": "yolo26n.pt"},
    ).to_json()


def make_job(
    storage: Path,
    images: list[np.ndarray],
    event_id: str = "lobby-0001",
    fps: float = 2.0,
    type_: str = "fall",
    job_id: str | None = None,
    kind: JobKind = JobKind.VERIFY,
    prompt: str | None = None,
) -> VlmJob:
    job_id = job_id or f"{event_id}-new"
    folder = storage / "vlm" / "lobby" / job_id
    folder.mkdir(parents=True, exist_ok=True)
    frames = []
    for number, image in enumerate(images):
        relative = f"vlm/lobby/{job_id}/{number:03d}.jpg"
        cv2.imwrite(str(storage / relative), image)
        frames.append(JobFrame(relative, WINDOW_START + number / fps, (PERSON_A, PERSON_B)))
    return VlmJob(
        job_id=job_id,
        kind=kind,
        camera="lobby",
        event_type=type_ if kind is JobKind.VERIFY else "watch",
        rule=type_,
        event_id=event_id if kind is JobKind.VERIFY else None,
        track_id=7,
        label="person",
        priority=3,
        fps=fps,
        frames=tuple(frames),
        frame_wh=FRAME_WH,
        model_wh=(images[0].shape[1], images[0].shape[0]),
        event_start_ts=WINDOW_START + 2.0,
        event_end_ts=None,
        created_ts=WINDOW_START + 10,
        alert=alert_json(event_id, type_=type_) if kind is JobKind.VERIFY else None,
        prompt=prompt,
        risk_level="high" if kind is JobKind.WATCH else None,
    )


def vlm_config(storage: Path, **queue) -> VlmConfig:
    return VlmConfig.model_validate(
        {
            "backend": "scripted",
            "scripted": {"responses": str(storage / "answers.yaml")},
            "queue": {"claim_idle_s": 0.3, **queue},
        }
    )


def worker_for(client: redis.Redis, storage: Path, backend, config: VlmConfig, consumer: str = "test") -> VlmWorker:
    queue = JobQueue(client, StreamNames("streamer"), config.queue)
    return VlmWorker(backend, queue, AlertWriter(client, RedisConfig()), config, storage, consumer)


def answers(mapping: dict) -> ScriptedTestDouble:
    return ScriptedTestDouble({k: list(v) for k, v in mapping.items()})


def published(client: redis.Redis, stream: str = "streamer:alerts") -> list[dict]:
    return [json.loads(fields[b"data"]) for _, fields in client.xrange(stream)]


def answer(verdict="confirmed", start=3.0, end=4.5, risk="high", bbox=None, label="person falls", **extra) -> str:
    event = {
        "label": label,
        "start_time": start,
        "end_time": end,
        "risk_level": risk,
        "description": "A person loses balance and falls to the floor.",
    }
    if bbox is not None:
        event["bbox_2d"] = bbox
    return json.dumps({"verdict": verdict, "events": [event] if verdict == "confirmed" else [], **extra})


def announce(client, event_id: str, state: str = "new", end: float | None = None, seq: int = 0) -> None:
    """The camera side's message, through the same delivery script as `streamer run` uses."""
    data = alert_json(event_id, state=state, end=end)
    keys, args = deliver_script.script_call(
        "streamer", f"{event_id}:{seq}:{state}", ["streamer:alerts"], data, 1000, 600
    )
    client.register_script(deliver_script.SCRIPT)(keys=keys, args=args)
