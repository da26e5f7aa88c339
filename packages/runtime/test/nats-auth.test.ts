/**
 * NATS auth and TLS from settings, against real nats-server processes configured for each mode: a client without
 * credentials is refused, each mode connects with its own (JetStream included, as every service needs it).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { nkeys } from "@nats-io/transport-node";
import {
  ConfigError,
  connectNats,
  type LocalNats,
  loadConfig,
  natsAuthFromConfig,
  type NatsAuthOptions,
  NatsUnavailableError,
  natsSettings,
  startNatsServer,
} from "../src/index.js";
import { createJwtAuth } from "./support/nats-jwt.js";
import { createTestCa, type TestCa } from "./support/test-ca.js";

const dir = mkdtempSync(join(tmpdir(), "ragtune-nats-auth-"));
const file = (name: string, contents: string) => {
  writeFileSync(join(dir, name), contents, { mode: 0o600 });
  return join(dir, name);
};

/** Connects with the auth, checks JetStream answers, closes; rejects like connectNats does. */
async function connectWith(url: string, auth: NatsAuthOptions) {
  const handle = await connectNats({ url, name: "auth-test", auth, connectTimeoutMs: 2000 });
  try {
    await handle.ping();
    const kv = await handle.kvm.create("auth_test", { history: 1 });
    await kv.put("k", "v");
  } finally {
    await handle.close();
  }
}

async function assertRefused(url: string, auth: NatsAuthOptions, pattern: RegExp) {
  await assert.rejects(connectWith(url, auth), (error: Error) => {
    assert.ok(error instanceof NatsUnavailableError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

after(() => rmSync(dir, { recursive: true, force: true }));

describe("NATS users: password and NKey", () => {
  let server: LocalNats;
  const nkey = nkeys.createUser();
  before(async () => {
    server = await startNatsServer({
      config: `authorization { users: [ { user: ragtune, password: "pw-1" }, { nkey: ${nkey.getPublicKey()} } ] }`,
    });
  });
  after(() => server.stop());

  it("refuses a client without credentials, or with a wrong password", async () => {
    await assertRefused(server.url, {}, /authorization/i);
    await assertRefused(server.url, { user: "ragtune", password: "wrong" }, /authorization/i);
  });

  it("connects with user and password", async () => {
    await connectWith(server.url, { user: "ragtune", password: "pw-1" });
  });

  it("connects with an NKey seed file (from NATS_NKEY_SEED_FILE)", async () => {
    const seedFile = file("user.nk", new TextDecoder().decode(nkey.getSeed()));
    const config = loadConfig(natsSettings(), { NATS_URL: server.url, NATS_NKEY_SEED_FILE: seedFile }, []);
    await connectWith(config.natsUrl, natsAuthFromConfig(config));
    await assertRefused(
      server.url,
      { nkeySeedFile: file("other.nk", new TextDecoder().decode(nkeys.createUser().getSeed())) },
      /authorization/i,
    );
  });
});

describe("NATS token", () => {
  let server: LocalNats;
  before(async () => {
    server = await startNatsServer({ config: 'authorization { token: "t0ken-abc" }' });
  });
  after(() => server.stop());

  it("refuses a client without the token and connects with it (NATS_TOKEN)", async () => {
    await assertRefused(server.url, {}, /authorization/i);
    await assertRefused(server.url, { token: "nope" }, /authorization/i);
    const config = loadConfig(natsSettings(), { NATS_URL: server.url, NATS_TOKEN: "t0ken-abc" }, []);
    await connectWith(config.natsUrl, natsAuthFromConfig(config));
  });
});

describe("NATS credentials file (operator, account and user JWTs)", () => {
  let server: LocalNats;
  const jwt = createJwtAuth();
  before(async () => {
    server = await startNatsServer({ config: jwt.serverConfig });
  });
  after(() => server.stop());

  it("refuses a client without credentials and connects with the .creds file (NATS_CREDS_FILE)", async () => {
    await assertRefused(server.url, {}, /authorization/i);
    const config = loadConfig(
      natsSettings(),
      { NATS_URL: server.url, NATS_CREDS_FILE: file("u.creds", jwt.creds) },
      [],
    );
    await connectWith(config.natsUrl, natsAuthFromConfig(config));
  });
});

describe("NATS over TLS with client certificates", () => {
  let server: LocalNats;
  let ca: TestCa;
  before(async () => {
    ca = createTestCa();
    server = await startNatsServer({
      config: [
        "tls {",
        `  cert_file: "${ca.serverCertFile}"`,
        `  key_file: "${ca.serverKeyFile}"`,
        `  ca_file: "${ca.caFile}"`,
        "  verify: true",
        "}",
        'authorization { user: ragtune, password: "pw-tls" }',
      ].join("\n"),
    });
  });
  after(async () => {
    await server.stop();
    rmSync(ca.dir, { recursive: true, force: true });
  });

  it("connects with the test CA, a client certificate and a password (tls:// URL, NATS_TLS_* settings)", async () => {
    const config = loadConfig(
      natsSettings(),
      {
        NATS_URL: server.url.replace(/^nats:/, "tls:"),
        NATS_USER: "ragtune",
        NATS_PASSWORD: "pw-tls",
        NATS_TLS_CA_FILE: ca.caFile,
        NATS_TLS_CERT_FILE: ca.clientCertFile,
        NATS_TLS_KEY_FILE: ca.clientKeyFile,
      },
      [],
    );
    await connectWith(config.natsUrl, natsAuthFromConfig(config));
  });

  it("refuses a client that does not trust the server's CA, or brings no client certificate", async () => {
    const creds = { user: "ragtune", password: "pw-tls" };
    await assertRefused(server.url, { ...creds, tls: true }, /certificate|self.signed|verify/i);
    // The server ends the handshake; the client sees no INFO in time.
    await assertRefused(server.url, { ...creds, tlsCaFile: ca.caFile }, /certificate|closed|alert|timeout/i);
  });
});

describe("NATS auth settings", () => {
  it("rejects two auth modes at once and half a client certificate, naming the setting", () => {
    assert.throws(
      () => natsAuthFromConfig({ natsToken: "t", natsUser: "u", natsPassword: "p" }),
      (error: Error) => error instanceof ConfigError && /NATS_USER\/NATS_PASSWORD/.test(error.message),
    );
    assert.throws(
      () => natsAuthFromConfig({ natsTlsCertFile: "/x.pem" }),
      (error: Error) => error instanceof ConfigError && /NATS_TLS_KEY_FILE/.test(error.message),
    );
  });

  it("names the setting of a credentials file that cannot be read", async () => {
    await assert.rejects(
      connectNats({ url: "nats://127.0.0.1:1", name: "x", auth: { credsFile: join(dir, "missing.creds") } }),
      (error: Error) => error instanceof ConfigError && /NATS_CREDS_FILE/.test(error.message),
    );
  });
});
