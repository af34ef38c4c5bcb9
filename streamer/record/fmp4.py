"""The camera's own packets as fragmented MP4 for a browser's Media Source Extensions: an init segment (ftyp +
moov, the codec's parameters) and then one fragment (moof + mdat) per packet, without re-encoding. FFmpeg's
muxer closes a fragment when the next packet comes (it then knows the duration), so a frame leaves one frame
interval after it arrived (40 ms at 25 fps). Timestamps start at 0 for each muxer (the first packet's DTS);
`origin_s` maps them back to the source's PTS, which the tracks beside the video carry: a frame shown at
`mediaTime` t is the source's frame at PTS `origin_s + t`."""

from __future__ import annotations

import io

import av

from streamer.source.packets import EncodedPacket, StreamTemplate

BROWSER_CODECS = frozenset({"h264", "hevc"})  # what MSE plays (H.265 where the browser has it); others: JPEG tiles
MOVFLAGS = "empty_moov+default_base_moof+frag_every_frame+negative_cts_offsets"


class _Collect(io.RawIOBase):
    """The muxer's output, taken out after each packet."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


class Fmp4Muxer:
    def __init__(self, template: StreamTemplate, first: EncodedPacket):
        """`first`: the keyframe the video starts at (its DTS becomes time 0)."""
        if template.codec not in BROWSER_CODECS:
            raise ValueError(f"{template.codec} is not played by browsers' MSE")
        self.template = template
        self.origin = first.dts
        self.origin_s = float(first.dts * template.time_base)
        self._pending: EncodedPacket | None = None
        self._out = _Collect()
        self._container = av.open(
            self._out, mode="w", format="mp4", options={"movflags": MOVFLAGS, "flush_packets": "1"}
        )
        self._stream = self._container.add_stream_from_template(template.stream, opaque=True)
        self._stream.time_base = template.time_base
        if template.codec == "hevc":
            self._stream.codec_tag = "hvc1"  # what Safari and Chrome accept for H.265 in MP4
        self._container.start_encoding()
        self.init = self._out.take()  # ftyp + moov: written by the header, before any packet
        self.codec_string = codec_string(self.init, template.codec)

    def mux(self, packet: EncodedPacket) -> tuple[EncodedPacket, bytes] | None:
        """The fragment (moof + mdat) finished by this packet's arrival, with the packet it carries (the one
        before); None for the first packet."""
        out = av.Packet(packet.data)
        out.stream = self._stream
        out.time_base = self.template.time_base
        out.pts = packet.pts - self.origin
        out.dts = packet.dts - self.origin
        out.duration = packet.duration or None
        out.is_keyframe = packet.is_keyframe
        self._container.mux(out)
        data, carried, self._pending = self._out.take(), self._pending, packet
        return (carried, data) if carried is not None and data else None

    def close(self) -> None:
        try:
            self._container.close()
        except (av.FFmpegError, OSError, ValueError):
            pass


def codec_string(init: bytes, codec: str) -> str:
    """The RFC 6381 codec string MSE wants, read from the init segment: `avc1.64001f` from the avcC box, or
    `hvc1.1.6.L93.B0` from the hvcC box (ISO/IEC 14496-15, annex E)."""
    if codec == "h264":
        at = init.find(b"avcC")
        if at >= 0 and len(init) >= at + 8:
            profile, compat, level = init[at + 5], init[at + 6], init[at + 7]
            return f"avc1.{profile:02x}{compat:02x}{level:02x}"
        return "avc1.42e01e"
    at = init.find(b"hvcC")
    if at < 0 or len(init) < at + 17:
        return "hvc1.1.6.L93.B0"  # Main profile, level 3.1: what most cameras send
    box = init[at + 4 : at + 17]  # configurationVersion, then the general profile, flags and level
    space, tier, profile = box[1] >> 6, box[1] >> 5 & 1, box[1] & 0x1F
    compat = int.from_bytes(box[2:6], "big")
    reversed_compat = int(f"{compat:032b}"[::-1], 2)
    constraints = list(box[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    parts = [
        "hvc1",
        f"{['', 'A', 'B', 'C'][space]}{profile}",
        f"{reversed_compat:X}",
        f"{'H' if tier else 'L'}{box[12]}",
    ]
    return ".".join(parts + [f"{byte:X}" for byte in constraints])
