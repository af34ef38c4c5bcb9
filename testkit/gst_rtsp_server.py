#!/usr/bin/python3
"""A real RTSP server for the tests: GStreamer's gst-rtsp-server on 127.0.0.1 serving a live H.264 test pattern.

Runs under Debian's system Python (python3-gi, gir1.2-gst-rtsp-server-1.0), not the project's venv.
Usage: gst_rtsp_server.py PORT [--fps N] [--size WxH] [--file MP4]; serves rtsp://127.0.0.1:PORT/cam until SIGTERM.
Prints `ready URL` once listening, then `playing EPOCH` each time the stream starts playing.
With --file, the file's own H.264 packets are sent as they are (a corrupt file makes a stream of corrupt packets).
"""

import argparse
import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--file", default=None)
    args = parser.parse_args()
    width, height = args.size.split("x")
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    if args.file:
        factory.set_launch(
            f"( filesrc location={args.file} ! qtdemux ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )"
        )
    else:
        factory.set_launch(
            f"( videotestsrc is-live=true pattern=ball "
            f"! video/x-raw,width={width},height={height},framerate={args.fps}/1 "
            f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.fps} ! rtph264pay name=pay0 pt=96 )"
        )
    factory.set_shared(True)
    # when the shared media starts playing (the first client's PLAY): its first frame leaves then, frame n
    # n / fps later; a test measuring glass-to-glass latency reads this line
    factory.connect(
        "media-configure",
        lambda _factory, media: media.connect(
            "new-state",
            lambda _media, state: state == Gst.State.PLAYING and print(f"playing {time.time():.6f}", flush=True),
        ),
    )
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    signal.signal(signal.SIGINT, lambda *_: loop.quit())
    GLib.timeout_add(200, lambda: True)  # wake the loop so Python signal handlers run
    print(f"ready rtsp://127.0.0.1:{args.port}/cam", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
