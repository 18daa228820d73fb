/* The few HTTP helpers the annotation page needs: JSON POSTs with Django's CSRF token, a readable
   message from an error response, and client ids that make retried answers idempotent. */

export function uuid4() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  // crypto.randomUUID needs a secure context; plain-HTTP installs still get a valid v4 id.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export async function post(url, body) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body || {}),
  });
}

export async function detailOf(response) {
  return (await refusalOf(response)).reason;
}

// A refusal's message, the field it names ({detail, field} from the API) and the whole body (a
// refused change or clear carries the answer that stands), read once.
export async function refusalOf(response) {
  try {
    const data = await response.json();
    const field = data && typeof data.field === "string" ? data.field : null;
    const body = data && typeof data === "object" ? data : {};
    if (data && data.detail) return { reason: String(data.detail), field, body };
    return { reason: JSON.stringify(data), field, body };
  } catch (e) {
    return { reason: `HTTP ${response.status}`, field: null, body: {} };
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
