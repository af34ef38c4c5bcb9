"""Corrupt packets, in files and in a live RTSP stream: a share of the clip's media bytes overwritten (0.1, 1 and
5 %), played through the real source. Crashes (a failed camera or an exception) must be 0; frames decoded are
set against the clean clip's."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from streamer.source.state import SourceState
from testkit.corrupt import corrupted_copy
from testkit.rtsp import RtspServer, free_port
from testkit.sources import Recorder, camera

SHARES = (0.001, 0.01, 0.05)


def _play_file(clip: Path) -> tuple[int, int, bool]:
    recorder = Recorder(camera(str(clip), detect={"fps": 25}))
    try:
        recorder.run()
    except Exception:
        return len(recorder.frames), recorder.source.counters.corrupt_packets, True
    return len(recorder.frames), recorder.source.counters.corrupt_packets, recorder.states[-1] == "failed"


def _play_live(clip: Path, timeout_s: float) -> tuple[int, int, bool]:
    """One pass of the clip served by the RTSP server: frames until the stream ends (the server's file ran out)."""
    server = RtspServer(free_port(), file=clip).start()
    recorder = Recorder(camera(server.url, detect={"fps": 25}, connection={"reconnect_max_s": 1}))
    crashed = threading.Event()

    def consume() -> None:
        try:
            recorder.run()
        except Exception:
            crashed.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not crashed.is_set():
            if SourceState.RECONNECTING.value in recorder.states[1:] and recorder.frames:
                break  # the first pass is over
            time.sleep(0.1)
    finally:
        recorder.stop.set()
        thread.join(10)
        server.stop()
    failed = crashed.is_set() or "failed" in recorder.states
    return len(recorder.frames), recorder.source.counters.corrupt_packets, failed


def run(clip: Path, folder: Path, live: bool = True) -> dict:
    clean_file = _play_file(clip)[0]
    clean_live = _play_live(clip, 40)[0] if live else None
    results: dict = {"clean_frames_file": clean_file, "clean_frames_live": clean_live, "file": {}, "live": {}}
    crashes = 0
    for share in SHARES:
        broken = corrupted_copy(clip, folder / f"broken-{share}.mp4", share)
        frames, corrupt, failed = _play_file(broken)
        crashes += failed
        results["file"][f"{share:.1%}"] = {
            "decoded": frames,
            "of_clean": round(frames / clean_file, 3),
            "corrupt_packets": corrupt,
            "crashed": failed,
        }
        if live:
            frames, corrupt, failed = _play_live(broken, 40)
            crashes += failed
            results["live"][f"{share:.1%}"] = {
                "decoded": frames,
                "of_clean": round(frames / max(1, clean_live), 3),
                "corrupt_packets": corrupt,
                "crashed": failed,
            }
    results["crashes"] = crashes
    return results
