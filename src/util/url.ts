/**
 * A URL as it may be shown (logs, `--check`, the journal): user and password replaced by `***`,
 * so the reader still sees that a login is configured. Text that is no URL is returned with
 * anything before an `@` hidden, since it may still hold a password.
 */
export function withoutCredentials(text: string): string {
  try {
    const url = new URL(text);
    if (!url.username && !url.password) return text;
    url.username = "***";
    url.password = "";
    return url.toString().replace(/\/$/, text.endsWith("/") ? "/" : "");
  } catch {
    return text.replace(/\/\/[^@/]*@/, "//***@");
  }
}
