// The zone editor: the camera's zones, motion masks and crossing lines drawn over its live picture, in the
// picture's own pixels (the config's). Click to add points; drag a point to move it; a zone's rule is chosen beside
// it. Save writes them into the config file (PUT /cameras/{name}/geometry), checked there as the loader checks a
// file; a refusal shows the loader's message here. Rules that are not about a zone or a line stay as they are.
const ZONE_RULES = {zone_intrusion: "min_inside_s", dwell: "min_dwell_s"};
const SVG = "http://www.w3.org/2000/svg";

class ZoneEditor {
  constructor(root, camera) {
    this.root = root; this.camera = camera; this.drawing = null; this.dragging = null;
    this.img = root.querySelector("img"); this.svg = root.querySelector("svg");
    this.list = document.getElementById("shapes"); this.status = document.getElementById("editor-status");
    this.error = document.getElementById("editor-error");
    this.svg.addEventListener("pointerdown", (e) => this.down(e));
    this.svg.addEventListener("pointermove", (e) => this.move(e));
    window.addEventListener("pointerup", () => { this.dragging = null; });
    for (const [id, kind] of [["draw-zone", "zone"], ["draw-mask", "mask"], ["draw-line", "line"]])
      document.getElementById(id).addEventListener("click", () => this.start(kind));
    document.getElementById("finish").addEventListener("click", () => this.finish());
    document.getElementById("save").addEventListener("click", () => this.save());
    this.img.addEventListener("load", () => this.render(), {once: true});
    this.load();
  }
  async load() {
    const g = await api(`/cameras/${this.camera}/geometry`);
    this.version = g.version;
    this.zones = Object.entries(g.zones).map(([name, points]) => ({name, points, rule: null}));
    this.masks = g.masks.map((points) => ({points}));
    this.lines = []; this.other = [];
    for (const rule of g.rules) {
      const zone = this.zones.find((z) => z.name === rule.zone);
      if (rule.type === "line_crossing") this.lines.push({name: rule.name || `line-${this.lines.length + 1}`, points: [rule.start, rule.end], rule});
      else if (zone && ZONE_RULES[rule.type] && !zone.rule) zone.rule = rule;
      else this.other.push(rule);
    }
    this.render();
  }
  point(e) {  // the pointer in the picture's pixels
    const box = this.svg.getBoundingClientRect(), w = this.img.naturalWidth, h = this.img.naturalHeight;
    return [Math.round((e.clientX - box.left) * w / box.width), Math.round((e.clientY - box.top) * h / box.height)];
  }
  start(kind) {
    this.drawing = {kind, points: []};
    this.status.textContent = kind === "line" ? "click the line's two ends" : "click the corners, then Finish shape";
  }
  down(e) {
    const handle = e.target.dataset.handle;
    if (handle !== undefined) { this.dragging = JSON.parse(handle); e.preventDefault(); return; }
    if (!this.drawing) return;
    this.drawing.points.push(this.point(e));
    if (this.drawing.kind === "line" && this.drawing.points.length === 2) this.finish();
    else this.render();
  }
  move(e) {
    if (!this.dragging) return;
    const [set, index, corner] = this.dragging;
    this[set][index].points[corner] = this.point(e);
    this.render();
  }
  finish() {
    const d = this.drawing;
    if (!d) return;
    this.drawing = null;
    if (d.kind === "zone") this.zones.push({name: `zone-${this.zones.length + 1}`, points: d.points, rule: null});
    else if (d.kind === "mask") this.masks.push({points: d.points});
    else if (d.points.length === 2) this.lines.push({name: `line-${this.lines.length + 1}`, points: d.points, rule: {type: "line_crossing"}});
    this.status.textContent = "not saved yet";
    this.render();
  }
  shape(set, index, points, cls, closed) {
    const node = document.createElementNS(SVG, closed ? "polygon" : "polyline");
    node.setAttribute("points", points.map((p) => p.join(",")).join(" "));
    node.setAttribute("class", cls);
    this.svg.append(node);
    points.forEach((p, corner) => {
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("cx", p[0]); dot.setAttribute("cy", p[1]); dot.setAttribute("r", Math.max(4, this.img.naturalWidth / 150));
      dot.setAttribute("class", "handle");
      if (set) dot.dataset.handle = JSON.stringify([set, index, corner]);
      this.svg.append(dot);
    });
  }
  render() {
    if (!this.zones || !this.img.naturalWidth) return;
    this.svg.setAttribute("viewBox", `0 0 ${this.img.naturalWidth} ${this.img.naturalHeight}`);
    this.svg.replaceChildren();
    this.zones.forEach((z, i) => this.shape("zones", i, z.points, "zone", true));
    this.masks.forEach((m, i) => this.shape("masks", i, m.points, "mask", true));
    this.lines.forEach((l, i) => this.shape("lines", i, l.points, "line", false));
    if (this.drawing) this.shape(null, 0, this.drawing.points, "drawing", this.drawing.kind !== "line");
    this.list.replaceChildren(...this.zones.map((z, i) => this.zoneRow(z, i)), ...this.lines.map((l, i) => this.lineRow(l, i)),
                              ...this.masks.map((m, i) => this.maskRow(i)),
                              ...this.other.map((r) => el("li", {class: "muted"}, `${r.name || r.type} (kept as it is)`)));
  }
  zoneRow(zone, index) {
    const name = el("input", {value: zone.name, "aria-label": "zone name", class: "zone-name"});
    name.addEventListener("change", () => { if (zone.rule) zone.rule.zone = name.value; zone.name = name.value; });
    const kind = el("select", {"aria-label": "rule", class: "zone-rule"}, el("option", {value: ""}, "no rule"),
                    el("option", {value: "zone_intrusion"}, "alert on entry"), el("option", {value: "dwell"}, "alert on dwell"));
    kind.value = zone.rule ? zone.rule.type : "";
    const seconds = el("input", {type: "number", min: "0", step: "0.5", "aria-label": "seconds", class: "zone-seconds",
                                 value: zone.rule ? zone.rule[ZONE_RULES[zone.rule.type]] ?? "" : ""});
    const sync = () => {
      if (!kind.value) { zone.rule = null; return; }
      const rule = zone.rule && zone.rule.type === kind.value ? zone.rule : {type: kind.value};
      rule.zone = zone.name;
      if (seconds.value !== "") rule[ZONE_RULES[kind.value]] = Number(seconds.value); else delete rule[ZONE_RULES[kind.value]];
      zone.rule = rule;
    };
    kind.addEventListener("change", sync); seconds.addEventListener("change", sync);
    return el("li", {}, "zone ", name, " ", kind, " after ", seconds, " s ", this.remove("zones", index));
  }
  lineRow(line, index) {
    const name = el("input", {value: line.name, "aria-label": "line name"});
    name.addEventListener("change", () => { line.name = name.value; });
    return el("li", {}, "line ", name, " ", this.remove("lines", index));
  }
  maskRow(index) { return el("li", {}, `motion mask ${index + 1} `, this.remove("masks", index)); }
  remove(set, index) {
    const button = el("button", {type: "button", class: "secondary"}, "delete");
    button.addEventListener("click", () => { this[set].splice(index, 1); this.status.textContent = "not saved yet"; this.render(); });
    return button;
  }
  async save() {
    const zones = Object.fromEntries(this.zones.map((z) => [z.name, z.points]));
    const rules = [...this.other, ...this.zones.filter((z) => z.rule).map((z) => ({...z.rule, zone: z.name})),
                   ...this.lines.map((l) => ({...l.rule, type: "line_crossing", name: l.name, start: l.points[0], end: l.points[1]}))];
    this.error.textContent = "";
    try {
      const saved = await api(`/cameras/${this.camera}/geometry`, {method: "PUT", body: JSON.stringify({zones, masks: this.masks.map((m) => m.points), rules, version: this.version})});
      this.version = saved.version;
      this.status.textContent = `saved: ${saved.changes.join("; ")} (the camera takes it within seconds)`;
    } catch (e) {
      this.error.textContent = e.message;
      this.status.textContent = "not saved";
    }
  }
}
