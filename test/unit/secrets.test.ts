import { afterEach, describe, expect, it } from "vitest";
import { bodyExcerpt } from "../../src/upstream/http.js";
import { addSecret, clearSecrets, scrub, scrubText } from "../../src/util/secrets.js";

// The scrubber's two rules (whole secrets; runs of 6+ characters of a secret of 8+), and what
// an error text may show of an upstream body.

const TOKEN = "Gq7TokenZx4Lm2Vb9Nc1Rt6Y";

afterEach(() => clearSecrets());

describe("scrubText (upstream text)", () => {
  it("masks whole secrets and every run of 6 or more of their characters", () => {
    addSecret(TOKEN);
    expect(scrubText(`Bearer ${TOKEN}`)).toBe("Bearer ***");
    expect(scrubText(`Bearer ${TOKEN.slice(0, 17)}…`)).toBe("Bearer ***…");
    expect(scrubText(`…${TOKEN.slice(10, 16)}.`)).toBe("…***.");
    expect(scrubText(`${TOKEN.slice(0, 6)} and ${TOKEN.slice(12)}`)).toBe("*** and ***");
    // fewer than 6 characters cannot be told from ordinary text
    expect(scrubText(`x${TOKEN.slice(0, 5)}x`)).toBe(`x${TOKEN.slice(0, 5)}x`);
    expect(scrubText("nothing secret here")).toBe("nothing secret here");
  });

  it("matches short secrets only whole, and URL-encoded forms in part too", () => {
    addSecret("pin42");
    addSecret("pa ss/wörd&x=1");
    expect(scrubText("pin4 pin42")).toBe("pin4 ***");
    expect(scrubText(`?password=${encodeURIComponent("pa ss/wörd&x=1").slice(0, 12)}`)).toBe("?password=***");
  });
});

describe("scrub (every log line and payload)", () => {
  it("masks whole secrets only, so ids that share characters with a secret stay intact", () => {
    addSecret("t0ken-000001");
    expect(scrub("goe-000001__maxCurrent t0ken-000001")).toBe("goe-000001__maxCurrent ***");
  });
});

describe("bodyExcerpt", () => {
  it("shows only a known safe part of a body, scrubbed before it is cut", () => {
    addSecret(TOKEN);
    expect(bodyExcerpt('{"error":"unauthorized"}')).toBe("unauthorized");
    expect(bodyExcerpt(`{"msg":"${"x".repeat(75)} ${TOKEN}"}`)).toBe(`${"x".repeat(75)} ***`);
    expect(bodyExcerpt("<html><title>502 Bad Gateway</title><body>GET /?token=abc</body></html>")).toBe(
      "502 Bad Gateway",
    );
    expect(bodyExcerpt("not found\n")).toBe("not found");
    expect(
      bodyExcerpt(`GET /api/cookie?user=a&password=secret-value HTTP/1.1\nHost: x\n${"y".repeat(90)}`),
    ).toBe("body not shown");
    expect(bodyExcerpt('{"data":[1,2,3]}')).toBe("body not shown");
  });
});
