// What a refusal shows of the payload it got. Answers pass through the secret scrubber, and a
// scrubber that replaces a secret inside an echoed payload tells the sender which of its
// guesses was the secret (issue 13.10). So the echo depends on the payload alone and is too
// short to hold a secret: at most three characters (secrets are at least four, see
// secrets.ts), plus the length. A sender learns nothing it did not send.

/** Characters shown at most; below the shortest secret the scrubber knows. */
const SHOWN = 3;

/** `"16"`, `"fas…" (4 characters)`, `nothing but blanks (12 characters)`. */
export function shown(payload: string): string {
  const characters = [...payload];
  if (payload.trim() === "") return `nothing but blanks (${characters.length} characters)`;
  const head = printable(characters.slice(0, SHOWN).join(""));
  return characters.length <= SHOWN ? `"${head}"` : `"${head}…" (${characters.length} characters)`;
}

/** Control, format and separator characters as \uXXXX, so an echo never breaks a line or a log. */
function printable(text: string): string {
  return text.replace(/["\\]|[^\P{C}]|[\p{Zl}\p{Zp}]/gu, (c) =>
    c === '"' || c === "\\" ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
