/* Times in the reader's own time zone, on every page. The server draws a time as
   <time class="local-time" datetime="ISO 8601 with offset">2026-12-07 12:08:28 UTC</time> (named UTC,
   so it reads right without this script); here each becomes the same instant in the browser's zone,
   written as the annotation page's History panel writes its times (clockTime), with the UTC text
   kept in the title. data-precision="minute" leaves the seconds out. */

const TIME_PARTS = { hour: "2-digit", minute: "2-digit", second: "2-digit" };

// A time of day in the browser's zone and locale, as the History panel shows it.
export function clockTime(d, { seconds = true } = {}) {
  const parts = seconds ? TIME_PARTS : { hour: "2-digit", minute: "2-digit" };
  return d.toLocaleTimeString([], parts);
}

const pad = (n) => String(n).padStart(2, "0");

// The date (year first, as the server writes it) and time of day in the browser's zone.
export function localDateTime(d, { seconds = true } = {}) {
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${day} ${clockTime(d, { seconds })}`;
}

function zoneName() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) {
    return "";
  }
}

// Every server-drawn time under `root` not converted yet (a page may call it again for rows it adds).
export function showLocalTimes(root = document) {
  const zone = zoneName();
  root.querySelectorAll("time.local-time[datetime]:not([data-local])").forEach((el) => {
    const d = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(d.getTime())) return; // left as the server wrote it, in UTC
    const server = el.textContent.trim();
    el.textContent = localDateTime(d, { seconds: el.dataset.precision !== "minute" });
    el.title = `Your local time${zone ? ` (${zone})` : ""}; ${server}`;
    el.dataset.local = "1";
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => showLocalTimes());
else showLocalTimes();
