// Every secret the process knows (configured passwords and tokens, and the session tokens and
// cookies it obtains at run time) is registered here, and every log line and every MQTT payload
// passes through scrub(). Redaction by field name alone misses secrets inside URLs, error texts
// and upstream bodies, which is where bridges have leaked them before.
//
// Two rules:
// - scrub(), for every log line and payload: whole secrets (4 characters or more), as they are,
//   URL-encoded and JSON-escaped, become `***`;
// - scrubText(), for text that comes from outside (upstream bodies quoted in error texts): that,
//   and any run of PARTIAL (6) or more characters taken from a secret of 8 or more characters
//   becomes `***` too. An upstream error page that echoes the request, cut short somewhere, used
//   to leave 17 of 24 password characters or `Bearer GoeTok-Zx…` in `<device>/error`. This rule
//   is not applied to everything: a secret shares runs with ordinary text too (a token holding
//   the charger's serial, a password holding the root topic), and masking those in topics and
//   discovery configs would break them. Text must be scrubbed BEFORE it is shortened: a cut can
//   leave fewer than 6 characters of a secret, which nothing can recognise.

const secrets = new Set<string>();
let pattern: RegExp | undefined;
/** Grows whenever the set of secrets changes: a text scrubbed at an older one must be scrubbed again. */
let generation = 0;
/** Every PARTIAL-character run of every form of every secret long enough for the partial rule. */
const runs = new Set<string>();

const MIN_LENGTH = 4;
const PARTIAL = 6;
const MIN_PARTIAL_SECRET = 8;
const MASK = "***";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Registers a secret and the forms it takes in URLs and JSON. Short strings are ignored. */
export function addSecret(secret: string | undefined): void {
  if (!secret || secret.length < MIN_LENGTH) return;
  const forms = [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)];
  let changed = false;
  for (const form of forms) {
    if (secrets.has(form)) continue;
    secrets.add(form);
    changed = true;
    if (secret.length >= MIN_PARTIAL_SECRET) {
      for (let i = 0; i + PARTIAL <= form.length; i++) runs.add(form.slice(i, i + PARTIAL));
    }
  }
  if (changed) {
    // longest first, so a secret that contains another is replaced whole
    const sorted = [...secrets].sort((a, b) => b.length - a.length).map(escapeRegExp);
    pattern = new RegExp(sorted.join("|"), "g");
    generation += 1;
  }
}

/** Which set of secrets scrub() applies now (see `generation`). */
export function secretsGeneration(): number {
  return generation;
}

/** Replaces every known secret in a text by `***`. */
export function scrub(text: string): string {
  if (!pattern) return text;
  pattern.lastIndex = 0;
  return pattern.test(text) ? text.replace(pattern, MASK) : text;
}

/** For text from outside (upstream bodies): every secret, and every run of 6+ characters of one, becomes `***`. */
export function scrubText(text: string): string {
  const whole = scrub(text);
  return runs.size > 0 ? maskRuns(whole) : whole;
}

/** Masks every stretch of the text covered by runs of secrets (overlapping runs merge). */
function maskRuns(text: string): string {
  let out = "";
  let kept = 0; // text before this index is in `out` already
  let coveredUntil = -1; // end of the stretch being masked, -1 when none
  let stretchStart = 0;
  for (let i = 0; i + PARTIAL <= text.length; i++) {
    if (!runs.has(text.slice(i, i + PARTIAL))) continue;
    if (i > coveredUntil) {
      if (coveredUntil >= 0) {
        out += `${text.slice(kept, stretchStart)}${MASK}`;
        kept = coveredUntil;
      }
      stretchStart = i;
    }
    coveredUntil = i + PARTIAL;
  }
  if (coveredUntil < 0) return text;
  return `${out}${text.slice(kept, stretchStart)}${MASK}${text.slice(coveredUntil)}`;
}

/** For tests: forgets every secret. */
export function clearSecrets(): void {
  secrets.clear();
  runs.clear();
  pattern = undefined;
  generation += 1;
}
