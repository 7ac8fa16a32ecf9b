import { createHash } from "node:crypto";

// The one rule for topic levels built from upstream data (Climkit meter and sensor ids, OVMS
// vehicle ids, anything a service or a configuration hands us), and the one check every topic
// passes before it is published. A level with `#`, `+`, NUL or a `/` inside, an empty level, a
// leading `$` or a control character makes the broker drop the bridge's connection (a protocol
// error), and the same publish would come back after every reconnect: such a topic must never
// leave the bridge.
//
// The encoding is percent-encoding as in URLs (what `decodeURIComponent` reverses), applied
// only where needed, so ordinary ids stay as they are:
// - `%`, `/`, `#`, `+`, control characters (U+0000–U+001F, U+007F–U+009F) and Unicode
//   non-characters become `%XX` per UTF-8 byte: `meter#1` → `meter%231`, `a/b` → `a%2Fb`;
// - a leading `$` (reserved for broker topics such as `$SYS`) becomes `%24`;
// - a lone surrogate (text that is not valid Unicode) becomes U+FFFD, then `%EF%BF%BD`;
// - an empty id becomes `%` alone, which no encoded id can be (every other `%` starts an escape);
// - a level longer than MAX_LEVEL bytes once encoded is cut and ends in `~` and 8 hex digits of
//   the SHA-256 of the whole id, so two long ids that share their start stay apart.

/** Longest level in bytes; ids in the services are 24–40 characters. */
export const MAX_LEVEL = 96;
/** MQTT's limit for a whole topic (a two-byte length). */
const MAX_TOPIC_BYTES = 65_535;

/** Characters that never appear raw in a level built by topicLevel. */
function unsafe(codePoint: number): boolean {
  return (
    codePoint <= 0x1f ||
    (codePoint >= 0x7f && codePoint <= 0x9f) ||
    (codePoint >= 0xfdd0 && codePoint <= 0xfdef) ||
    (codePoint & 0xfffe) === 0xfffe ||
    // a lone surrogate: the text is not valid Unicode
    (codePoint >= 0xd800 && codePoint <= 0xdfff)
  );
}

function percent(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  return out;
}

/** Makes one upstream-supplied string safe to use as a single MQTT topic level. */
export function topicLevel(id: string): string {
  if (id === "") return "%";
  let level = "";
  for (const char of id) {
    const codePoint = char.codePointAt(0) ?? 0;
    // Buffer.from turns a lone surrogate into U+FFFD
    if ("%/#+".includes(char) || unsafe(codePoint)) level += percent(char);
    else level += char;
  }
  if (level.startsWith("$")) level = `%24${level.slice(1)}`;
  if (Buffer.byteLength(level) <= MAX_LEVEL) return level;
  const hash = createHash("sha256").update(id).digest("hex").slice(0, 8);
  let cut = level.slice(0, MAX_LEVEL - 9);
  while (Buffer.byteLength(cut) > MAX_LEVEL - 9) cut = cut.slice(0, -1);
  // never end inside a %XX escape or between the halves of a surrogate pair
  cut = cut.replace(/%[0-9A-F]?$/, "").replace(/[\ud800-\udbff]$/, "");
  return `${cut}~${hash}`;
}

/**
 * Why a topic must not be published (undefined when it may): wildcards, empty levels, NUL and
 * control characters, invalid Unicode, a leading `$`, or more than 65535 bytes.
 */
export function topicProblem(topic: string): string | undefined {
  if (topic === "") return "the topic is empty";
  for (const char of topic) {
    const codePoint = char.codePointAt(0) ?? 0;
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) return "the topic is not valid Unicode";
    if (char === "#" || char === "+") return "the topic holds a wildcard (# or +)";
    if (unsafe(codePoint)) return "the topic holds a control character or a Unicode non-character";
  }
  if (topic.split("/").some((level) => level === "")) return "the topic has an empty level";
  if (topic.startsWith("$")) return "the topic starts with $ (reserved for the broker)";
  if (Buffer.byteLength(topic) > MAX_TOPIC_BYTES) return "the topic is longer than 65535 bytes";
  return undefined;
}

/** Does an MQTT topic filter (with + and #) match a topic? */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
