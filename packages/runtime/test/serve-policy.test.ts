/** Fail-closed serving: createServiceServer.listen refuses a non-loopback address without a token. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { JudgeService } from "@ragtune/contracts/judge";
import { ConfigError, createLogger, createServiceServer, isLoopbackHost } from "../src/index.js";

function serverWith(options: { authToken?: string; insecure?: boolean }) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger("test", { write: (line) => lines.push(JSON.parse(line)) });
  const server = createServiceServer({
    name: "judge",
    services: [{ service: JudgeService, impl: {} }],
    logger,
    ...options,
  });
  return { server, lines };
}

describe("serving without a token", () => {
  it("knows loopback addresses", () => {
    for (const host of ["127.0.0.1", "127.3.2.1", "localhost", "::1", "[::1]"]) assert.ok(isLoopbackHost(host), host);
    for (const host of ["0.0.0.0", "::", "10.0.0.4", "example.org"]) assert.ok(!isLoopbackHost(host), host);
  });

  it("refuses 0.0.0.0 without a token, naming RAGTUNE_AUTH_TOKEN and --insecure", async () => {
    const { server } = serverWith({});
    await assert.rejects(server.listen("0.0.0.0:0"), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /RAGTUNE_AUTH_TOKEN.*0\.0\.0\.0:0.*--insecure/);
      return true;
    });
    assert.equal(server.address, undefined);
  });

  it("serves loopback without a token (logged), and 0.0.0.0 with a token or when insecure (warned)", async () => {
    const loopback = serverWith({});
    await loopback.server.listen("127.0.0.1:0");
    await loopback.server.close(50);
    assert.ok(
      loopback.lines.some((l) => l.level === "info" && /unauthenticated \(loopback only\)/.test(String(l.msg))),
    );

    const insecure = serverWith({ insecure: true });
    await insecure.server.listen("0.0.0.0:0");
    await insecure.server.close(50);
    assert.ok(insecure.lines.some((l) => l.level === "warn" && /^INSECURE/.test(String(l.msg))));

    const token = serverWith({ authToken: "t" });
    await token.server.listen("0.0.0.0:0");
    await token.server.close(50);
    assert.ok(!token.lines.some((l) => l.level === "warn"));
  });
});
