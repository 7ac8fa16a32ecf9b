// Every secret the process knows (configured passwords and tokens, and the session tokens and
// cookies it obtains at run time) is registered here, and every log line and every MQTT payload
// passes through scrub(). Redaction by field name alone misses secrets inside URLs, error texts
// and upstream bodies, which is where bridges have leaked them before.

const secrets = new Set<string>();
let pattern: RegExp | undefined;

const MIN_LENGTH = 4;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Registers a secret and the forms it takes in URLs and JSON. Short strings are ignored. */
export function addSecret(secret: string | undefined): void {
  if (!secret || secret.length < MIN_LENGTH) return;
  const forms = [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)];
  let changed = false;
  for (const form of forms) {
    if (!secrets.has(form)) {
      secrets.add(form);
      changed = true;
    }
  }
  if (changed) {
    // longest first, so a secret that contains another is replaced whole
    const sorted = [...secrets].sort((a, b) => b.length - a.length).map(escapeRegExp);
    pattern = new RegExp(sorted.join("|"), "g");
  }
}

/** Replaces every known secret in a text by `***`. */
export function scrub(text: string): string {
  if (!pattern) return text;
  pattern.lastIndex = 0;
  return pattern.test(text) ? text.replace(pattern, "***") : text;
}

/** For tests: forgets every secret. */
export function clearSecrets(): void {
  secrets.clear();
  pattern = undefined;
}
