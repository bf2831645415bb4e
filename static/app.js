// Small progressive enhancements; every page works without them.

// Show <time datetime> values in the reader's own time zone.
function localizeTimes(root) {
  root.querySelectorAll("time[datetime]").forEach((el) => {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.textContent = when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
      el.title = el.getAttribute("datetime");
    }
  });
}

// A datetime-local field means the issuer's local time: send its UTC offset with the form.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches("[data-local-time]")) return;
  const local = form.querySelector("input[type=datetime-local]");
  const offset = form.querySelector("input[name=utc_offset]");
  if (local && offset) {
    const when = local.value ? new Date(local.value) : new Date();
    offset.value = String(-when.getTimezoneOffset());
  }
});

// "Did you mean …?" buttons fill the field they name.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-fill]");
  if (!button) return;
  const field = document.querySelector(button.dataset.fill);
  field.value = button.dataset.value;
  field.dispatchEvent(new Event("change", { bubbles: true }));
});

// Typing a new group's name picks "New group…" in the list beside it.
document.addEventListener("input", (event) => {
  const list = event.target.dataset?.picks && document.querySelector(event.target.dataset.picks);
  if (list && event.target.value.trim()) list.value = "new";
});

// "Close" on the recipient panel empties it (the link works without JavaScript too).
document.addEventListener("click", (event) => {
  const link = event.target.closest("[data-close]");
  if (!link) return;
  event.preventDefault();
  const panel = document.querySelector(link.dataset.close);
  panel.replaceChildren();
  panel.className = "";
});

// "Copy" buttons put the text of the element they name on the clipboard.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  source.select();
  try {
    await navigator.clipboard.writeText(source.value);
  } catch {
    document.execCommand("copy");  // pages served over plain http on another host
  }
  button.textContent = "Copied";
});

// "Export CSV" takes the filter and search that are on screen now.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-with-filter]");
  if (!link) return;
  const params = new URLSearchParams(new FormData(document.getElementById("search")));
  link.href = link.pathname + "?" + params.toString();
});

document.addEventListener("DOMContentLoaded", () => localizeTimes(document));
document.addEventListener("htmx:load", (event) => localizeTimes(event.target));

// A poller with data-poll-while="<selector>" asks only while something on the page matches,
// e.g. a row on the Credentials page still sending. (An hx-trigger filter expression would
// need eval, which the Content-Security-Policy forbids.)
document.addEventListener("htmx:confirm", (event) => {
  const selector = event.detail.elt.dataset?.pollWhile;
  if (selector && !document.querySelector(selector)) event.preventDefault();
});
