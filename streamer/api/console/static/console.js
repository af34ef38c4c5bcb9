// The console's few helpers: calls to the JSON API with the session's CSRF token, and building elements.
let csrf = null;
async function api(path, options = {}) {
  const headers = {"content-type": "application/json", ...(options.headers || {})};
  if (options.method && options.method !== "GET") {
    if (csrf === null) csrf = (await (await fetch("/me")).json()).csrf;
    if (csrf) headers["x-csrf-token"] = csrf;
  }
  const r = await fetch(path, {...options, headers});
  if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); throw new Error("log in"); }
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  // a style through the CSSOM: the page's Content-Security-Policy refuses style attributes
  for (const [k, v] of Object.entries(attrs)) { if (k === "style") node.style.cssText = v; else node.setAttribute(k, v); }
  if (tag === "img") node.addEventListener("error", () => node.classList.add("missing"));  // a snapshot not written (yet)
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}
const logout = document.getElementById("logout");
if (logout) logout.addEventListener("click", async (e) => { e.preventDefault(); await api("/logout", {method: "POST"}); location.href = "/login"; });
// Times as people read them, in the site's zone (the config's `timezone`, on <body data-tz>): "today 14:03:12",
// "yesterday 09:12:00", "Mon 3 Dec 14:03:12"; the full ISO time with its offset on hover.
const ZONE = document.body.dataset.tz || undefined;
const _day = new Intl.DateTimeFormat("en-CA", {timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit"});
const _clock = new Intl.DateTimeFormat("en-GB", {timeZone: ZONE, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
const _date = new Intl.DateTimeFormat("en-GB", {timeZone: ZONE, weekday: "short", day: "numeric", month: "short"});
const _dateYear = new Intl.DateTimeFormat("en-GB", {timeZone: ZONE, day: "numeric", month: "short", year: "numeric"});
function whenText(ts) {
  if (ts === null || ts === undefined || ts === "") return "";
  const at = new Date(ts * 1000), now = new Date(), day = _day.format(at);
  const yesterday = _day.format(new Date(now.getTime() - 86400000));
  const date = day === _day.format(now) ? "today" : day === yesterday ? "yesterday"
    : (day.slice(0, 4) === _day.format(now).slice(0, 4) ? _date : _dateYear).format(at);
  return `${date} ${_clock.format(at)}`;
}
function when(ts, iso) {  // a <time> element: the readable text, the exact time on hover
  const node = el("time", {datetime: iso || (ts ? new Date(ts * 1000).toISOString() : ""), title: iso || ""}, whenText(ts));
  return node;
}
