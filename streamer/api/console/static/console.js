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
