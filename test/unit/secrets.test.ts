import { afterEach, describe, expect, it } from "vitest";
import { bodyExcerpt } from "../../src/upstream/http.js";
import { addSecret, clearSecrets, scrub } from "../../src/util/secrets.js";

// The scrubber's two rules (whole secrets; runs of 6+ characters of a secret of 8+), and what
// an error text may show of an upstream body.

const TOKEN = "Gq7TokenZx4Lm2Vb9Nc1Rt6Y";

afterEach(() => clearSecrets());

describe("scrub", () => {
  it("masks whole secrets and every run of 6 or more of their characters", () => {
    addSecret(TOKEN);
    expect(scrub(`Bearer ${TOKEN}`)).toBe("Bearer ***");
    expect(scrub(`Bearer ${TOKEN.slice(0, 17)}…`)).toBe("Bearer ***…");
    expect(scrub(`…${TOKEN.slice(10, 16)}.`)).toBe("…***.");
    expect(scrub(`${TOKEN.slice(0, 6)} and ${TOKEN.slice(12)}`)).toBe("*** and ***");
    // fewer than 6 characters cannot be told from ordinary text
    expect(scrub(`x${TOKEN.slice(0, 5)}x`)).toBe(`x${TOKEN.slice(0, 5)}x`);
    expect(scrub("nothing secret here")).toBe("nothing secret here");
  });

  it("matches short secrets only whole, and URL-encoded forms in part too", () => {
    addSecret("pin42");
    addSecret("pa ss/wörd&x=1");
    expect(scrub("pin4 pin42")).toBe("pin4 ***");
    expect(scrub(`?password=${encodeURIComponent("pa ss/wörd&x=1").slice(0, 12)}`)).toBe("?password=***");
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
