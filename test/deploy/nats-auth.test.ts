/**
 * The deployment's NATS, run for real: deploy/gen-secrets.sh makes the CA, certificates and password, a
 * nats-server runs deploy/nats/nats.conf (compose's) with them, and a ragtune process configured as compose
 * configures the trainer connects (TLS, client certificate, password) while clients without them are refused.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  connectNats,
  deriveNodeToken,
  type LocalNats,
  loadConfig,
  natsAuthFromConfig,
  natsSettings,
  startNatsServer,
} from "@ragtune/runtime";
import { deployDir, loadCompose, readRepoFile } from "./deploy-files.js";

describe("deploy: NATS with TLS and a password, secrets from deploy/gen-secrets.sh", () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-deploy-secrets-"));
  const secrets = join(dir, "secrets");
  const envFile = join(dir, ".env");
  let nats: LocalNats;
  let dotenv: Record<string, string>;
  /** compose's /run/secrets/<name> → the generated file. */
  const secretFiles: Record<string, string> = {};

  before(async () => {
    execFileSync("sh", [join(deployDir, "gen-secrets.sh")], {
      env: { ...process.env, RAGTUNE_SECRETS_DIR: secrets, RAGTUNE_ENV_FILE: envFile },
      stdio: ["ignore", "ignore", "pipe"],
    });
    dotenv = Object.fromEntries(
      readFileSync(envFile, "utf8")
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    for (const [name, spec] of Object.entries<{ file: string }>(loadCompose().secrets)) {
      secretFiles[`/run/secrets/${name}`] = join(secrets, spec.file.replace(/^\.\/secrets\//, ""));
    }
    const conf = readRepoFile("deploy/nats/nats.conf").replace(/\/run\/secrets\/[a-z-]+/g, (path) => secretFiles[path]);
    process.env.NATS_PASSWORD = dotenv.NATS_PASSWORD; // nats.conf reads it from the server's environment
    nats = await startNatsServer({ config: conf });
  });
  after(async () => {
    await nats?.stop();
    delete process.env.NATS_PASSWORD;
    rmSync(dir, { recursive: true, force: true });
  });

  /** The trainer's compose environment, its secret paths pointing at the generated files and its URL at the test's server. */
  function trainerEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries<string>(loadCompose().services.trainer.environment)) {
      if (!key.startsWith("NATS_")) continue;
      env[key] = secretFiles[value] ?? value.replace(/^\$\{NATS_PASSWORD:\?[^}]*\}$/, dotenv.NATS_PASSWORD);
    }
    env.NATS_URL = nats.url.replace(/^nats:/, "tls:").replace("127.0.0.1", "localhost");
    return env;
  }

  it("makes a NATS password that nats.conf's variable reference reads as a string", () => {
    // nats-server parses $NATS_PASSWORD as a config value: "1e5a…" (random hex, 1 in 10 or so) stops it starting.
    assert.match(dotenv.NATS_PASSWORD, /^[a-z][0-9a-z]{32,}$/);
  });

  it("lets a process with compose's NATS settings in (TLS, client certificate, password) and use JetStream", async () => {
    const config = loadConfig(natsSettings(), trainerEnv(), []);
    const handle = await connectNats({ url: config.natsUrl, name: "deploy-test", auth: natsAuthFromConfig(config) });
    try {
      const kv = await handle.kvm.create("deploy_test", { history: 1 });
      await kv.put("k", "v");
    } finally {
      await handle.close();
    }
  });

  it("refuses a client without the password, without a client certificate, or without TLS", async () => {
    const config = loadConfig(natsSettings(), trainerEnv(), []);
    const auth = natsAuthFromConfig(config);
    const attempts = [{ ...auth, password: "wrong" }, { ...auth, tlsCertFile: undefined, tlsKeyFile: undefined }, {}];
    for (const attempt of attempts) {
      await assert.rejects(
        connectNats({ url: config.natsUrl, name: "deploy-test", auth: attempt, connectTimeoutMs: 2000 }),
        /cannot reach NATS/,
      );
    }
  });

  it("makes agent credentials bound to compose's node ids, from the generated auth token", () => {
    assert.equal(dotenv.RAGTUNE_AGENT_TOKEN_CPU, deriveNodeToken(dotenv.RAGTUNE_AUTH_TOKEN, "compose-cpu"));
    assert.equal(dotenv.RAGTUNE_AGENT_TOKEN_K8S_GPU, deriveNodeToken(dotenv.RAGTUNE_AUTH_TOKEN, "k8s-gpu-0"));
    const agent = loadCompose().services.agent.environment;
    assert.match(agent.RAGTUNE_AGENT_TOKEN, /^\$\{RAGTUNE_AGENT_TOKEN_CPU:\?/);
    assert.equal(agent.RAGTUNE_AUTH_TOKEN, undefined, "the agent does not get the shared token");
  });
});
