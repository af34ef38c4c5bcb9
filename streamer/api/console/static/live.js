// The live player: the camera's own H.264/H.265 as fragmented MP4 over a WebSocket into Media Source Extensions,
// the tracked boxes drawn over it from the tracks sent beside the video (matched by the frame's time on the
// video's clock), and the JPEG picture when the browser cannot play the codec or the video cannot be had.
// Message framing (streamer/api/live_video.py): 4 bytes big-endian head length, a JSON head, the payload.
const LIVE_EDGE_S = 0.15, MAX_BEHIND_S = 0.6, KEEP_S = 20, TRACK_MATCH_S = 0.25, CATCH_UP_RATE = 1.1;

class LivePlayer {
  constructor(box, camera) {
    this.box = box; this.camera = camera; this.queue = []; this.tracks = []; this.frames = 0;
    this.arrived = new Map();  // a frame's time on the video's clock → when its packet reached the worker (epoch s)
    this.video = el("video", {muted: "", autoplay: "", playsinline: "", class: "live-video"});
    this.video.muted = true;
    this.overlay = el("canvas", {class: "live-overlay"});
    box.append(this.video, this.overlay);
    this.status = el("p", {class: "muted live-status"}, "connecting…");
    box.after(this.status);
    this.open();
    this.video.requestVideoFrameCallback?.((now, meta) => this.onFrame(now, meta));
  }
  open() {
    if (!window.MediaSource) return this.fallback("this browser has no Media Source Extensions");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.ws = new WebSocket(`${scheme}//${location.host}/cameras/${this.camera}/live.ws`);
    this.ws.binaryType = "arraybuffer";
    this.ws.onmessage = (m) => this.onMessage(m.data);
    this.ws.onclose = (e) => { if (!this.fellBack) { this.status.textContent = `disconnected${e.reason ? ": " + e.reason : ""}; retrying`; setTimeout(() => this.open(), 2000); } };
  }
  onMessage(buffer) {
    const view = new DataView(buffer), length = view.getUint32(0);
    const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
    const data = new Uint8Array(buffer, 4 + length);
    if (head.type === "init") this.start(head, data);
    else if (head.type === "fragment") {
      this.arrived.set((head.pts_s - this.origin).toFixed(3), head.received_ts);
      if (this.arrived.size > 500) this.arrived.delete(this.arrived.keys().next().value);
      this.append(data);
    }
    else if (head.type === "tracks") { this.tracks.push(head); if (this.tracks.length > 200) this.tracks.splice(0, 100); }
    else if (head.type === "unplayable") this.fallback(head.codec ? `${head.codec} is not played by browsers` : head.reason);
    else if (head.type === "ended") this.status.textContent = `the camera's stream ended (${head.reason}); waiting for it`;
  }
  start(head, init) {
    if (!MediaSource.isTypeSupported(head.mime)) return this.fallback(`this browser cannot play ${head.mime}`);
    this.queue = [init]; this.tracks = []; this.sourceBuffer = null; this.origin = head.origin_s; this.arrived.clear();
    this.shapes = {zones: head.zones || {}, lines: head.lines || [], width: head.width, height: head.height};
    this.media = new MediaSource();
    this.video.src = URL.createObjectURL(this.media);
    this.media.addEventListener("sourceopen", () => {
      this.sourceBuffer = this.media.addSourceBuffer(head.mime);
      this.sourceBuffer.mode = "segments";
      this.sourceBuffer.addEventListener("updateend", () => this.pump());
      this.pump();
    }, {once: true});
    this.status.textContent = `live · ${head.width}×${head.height} · the camera's own video`;
    this.box.dataset.mode = "video";
  }
  append(data) { this.queue.push(data); this.pump(); }
  pump() {
    const sb = this.sourceBuffer;
    if (!sb || sb.updating || !this.queue.length) return;
    const buffered = sb.buffered;
    if (buffered.length && buffered.start(0) < this.video.currentTime - KEEP_S) {
      sb.remove(buffered.start(0), this.video.currentTime - KEEP_S / 2);  // the browser keeps no more than this
      return;
    }
    try { sb.appendBuffer(this.queue.shift()); } catch (e) { this.status.textContent = `video error: ${e.message}`; return; }
    if (buffered.length) {
      const end = buffered.end(buffered.length - 1);
      const behind = end - this.video.currentTime;
      if (behind > MAX_BEHIND_S) this.video.currentTime = end - LIVE_EDGE_S;  // stay live
      else this.video.playbackRate = behind > LIVE_EDGE_S + 0.1 ? CATCH_UP_RATE : 1;  // back to the edge, unseen
      if (this.video.paused) this.video.play().catch(() => {});
    }
  }
  onFrame(now, meta) {
    this.frames += 1;
    this.box.dataset.frames = this.frames;
    this.draw(meta.mediaTime);
    const arrived = this.arrived.get(meta.mediaTime.toFixed(3));  // how far behind the camera the picture is
    if (arrived) this.behind = performance.timeOrigin + meta.expectedDisplayTime - arrived * 1000;
    if (this.frames % 25 === 0 && this.behind !== undefined) this.box.dataset.behindMs = Math.round(this.behind);
    this.video.requestVideoFrameCallback((n, m) => this.onFrame(n, m));
  }
  draw(mediaTime) {
    const c = this.overlay, w = this.video.clientWidth, h = this.video.clientHeight;
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    const g = c.getContext("2d");
    g.clearRect(0, 0, w, h);
    this.drawShapes(g, w, h);
    let best = null;
    for (const t of this.tracks) if (Math.abs(t.t - mediaTime) <= TRACK_MATCH_S && (!best || Math.abs(t.t - mediaTime) < Math.abs(best.t - mediaTime))) best = t;
    this.shown = best;
    if (!best) return null;
    g.lineWidth = 2; g.font = "13px sans-serif";
    for (const b of best.boxes) {
      const [x1, y1, x2, y2] = b.box;
      g.strokeStyle = "#ffd400"; g.strokeRect(x1 * w, y1 * h, (x2 - x1) * w, (y2 - y1) * h);
      const label = `${b.label}${b.id !== null ? " #" + b.id : ""}`;
      g.fillStyle = "#ffd400"; g.fillRect(x1 * w, y1 * h - 16, g.measureText(label).width + 6, 16);
      g.fillStyle = "#000"; g.fillText(label, x1 * w + 3, y1 * h - 4);
    }
    return best;
  }
  drawShapes(g, w, h) {  // the camera's zones and crossing lines, from its config, under the boxes
    const s = this.shapes;
    if (!s || !s.width) return;
    const x = (p) => p[0] * w / s.width, y = (p) => p[1] * h / s.height;
    g.lineWidth = 2; g.font = "12px sans-serif";
    for (const [name, polygon] of Object.entries(s.zones)) {
      g.beginPath(); polygon.forEach((p, i) => i ? g.lineTo(x(p), y(p)) : g.moveTo(x(p), y(p))); g.closePath();
      g.fillStyle = "rgba(77, 163, 255, .15)"; g.fill(); g.strokeStyle = "#4da3ff"; g.stroke();
      g.fillStyle = "#4da3ff"; g.fillText(name, x(polygon[0]) + 4, y(polygon[0]) + 14);
    }
    for (const line of s.lines) {
      g.beginPath(); g.moveTo(x(line.start), y(line.start)); g.lineTo(x(line.end), y(line.end));
      g.strokeStyle = "#ffb000"; g.stroke(); g.fillStyle = "#ffb000"; g.fillText(line.name, x(line.start) + 4, y(line.start) - 4);
    }
  }
  fallback(why) {
    this.fellBack = true;
    if (this.ws) this.ws.close();
    this.video.remove(); this.overlay.remove();
    this.box.append(el("img", {src: `/cameras/${this.camera}/live.mjpeg`, alt: `${this.camera}, live picture`}));
    this.box.dataset.mode = "jpeg";
    this.status.textContent = `live picture about once a second (${why})`;
  }
}
