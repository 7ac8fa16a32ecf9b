import type { YAMLError } from "yaml";

// The yaml library's messages are written for programmers (`please use
// YAML.parseAllDocuments()`), end in a dangling colon once their excerpt is cut off, and point
// past an unclosed quote to where the parser gave up. These say what to change, and where.

/** One line per YAML error: where it is, what is wrong, what to do. */
export function describeYamlError(error: YAMLError, text: string): string {
  const line = error.linePos?.[0]?.line;
  const column = error.linePos?.[0]?.col;
  const where = line ? `line ${line}` : "YAML";
  const source = line ? text.split("\n")[line - 1] : undefined;
  const shown = source?.trim() ? ` (${JSON.stringify(source.trim())})` : "";
  switch (error.code) {
    case "TAB_AS_INDENT":
      return `${where}: indented with a tab; YAML needs spaces`;
    case "MULTIPLE_DOCS":
      return `${where}: a second document starts here with ---; the configuration is one document: remove that line`;
    case "DUPLICATE_KEY":
      return `${where}${shown}: this key appears twice in the same section; keep one`;
    case "BLOCK_AS_IMPLICIT_KEY":
      return `${where}${shown}: a value contains ": "; put the value in quotes`;
    case "MISSING_CHAR":
      if (/quote/i.test(error.message)) {
        const opened = line ? unclosedQuoteLine(text, line) : undefined;
        return opened
          ? `line ${opened.line} (${JSON.stringify(opened.text)}): a quote is opened and not closed on that line`
          : `a quoted value is not closed: check the quotes before ${where}`;
      }
      if (/without - indicator/.test(error.message)) {
        return `${where}${shown}: indented differently from the lines above it; align the keys of one entry under each other`;
      }
      break;
    case "BAD_INDENT":
      if (/end with a \]/.test(error.message)) return `a [ list is not closed with ] before ${where}`;
      if (/end with a \}/.test(error.message)) return `a { mapping is not closed with } before ${where}`;
      return `${where}${shown}: wrong indentation; align it with the keys of its section`;
    default:
      break;
  }
  // the library's own text, without the position it appends (given in front instead)
  const message = error.message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "") ?? "";
  return `${where}${column ? `, column ${column}` : ""}${shown}: ${message}`;
}

/** The last line before `before` with an odd number of quotes of one kind: where a quote was left open. */
function unclosedQuoteLine(text: string, before: number): { line: number; text: string } | undefined {
  const lines = text.split("\n");
  for (let index = Math.min(before, lines.length) - 1; index >= 0; index--) {
    const content = lines[index] ?? "";
    const single = (content.match(/'/g) ?? []).length;
    const double = (content.match(/"/g) ?? []).length;
    if (single % 2 === 1 || double % 2 === 1) return { line: index + 1, text: content.trim() };
  }
  return undefined;
}
