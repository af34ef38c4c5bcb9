"""Decoding for the recorder's re-encode path: packets back to frames, each with its packet's wall-clock time."""

from __future__ import annotations

import av

from streamer.source.packets import EncodedPacket, StreamTemplate, WallsByPts


class PacketDecoder:
    def __init__(self, template: StreamTemplate):
        self.template = template
        self._context = av.CodecContext.create(template.codec, "r")
        extradata = template.stream.codec_context.extradata
        if extradata:
            self._context.extradata = extradata
        self._context.width, self._context.height = template.width, template.height
        self._walls = WallsByPts(remembered=256)

    def decode(self, packet: EncodedPacket) -> list[tuple[av.VideoFrame, float]]:
        self._walls.remember(packet.pts, packet.wall_ts)
        raw = av.Packet(packet.data)
        raw.pts, raw.dts, raw.time_base = packet.pts, packet.dts, self.template.time_base
        out = []
        for frame in self._context.decode(raw):
            if frame.pts is None:
                continue
            wall_ts = self._walls.take(frame.pts)
            if wall_ts is None:
                wall_ts = packet.wall_ts + float((frame.pts - packet.pts) * self.template.time_base)
            out.append((frame, wall_ts))
        return out
