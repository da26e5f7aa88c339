/**
 * Decentralised (JWT) NATS auth for tests, written the way `nsc` writes it: an operator, an account with
 * JetStream allowed, and a user whose .creds file a client connects with. Only what nats-server checks is filled in.
 */
import { nkeys } from "@nats-io/transport-node";

type KeyPair = ReturnType<typeof nkeys.createOperator>;

const b64url = (data: Uint8Array | string) => Buffer.from(data).toString("base64url");

function signJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }));
  const claims = {
    jti: b64url(crypto.getRandomValues(new Uint8Array(16))),
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats: { ...nats, version: 2 },
  };
  const body = `${header}.${b64url(JSON.stringify(claims))}`;
  return `${body}.${b64url(issuer.sign(new TextEncoder().encode(body)))}`;
}

export interface JwtAuthSetup {
  /** nats-server configuration lines: operator, memory resolver with the account preloaded. */
  serverConfig: string;
  /** Contents of the user's .creds file. */
  creds: string;
}

export function createJwtAuth(): JwtAuthSetup {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  // JetStream needs a system account for its internal subscriptions.
  const system = nkeys.createAccount();
  const user = nkeys.createUser();
  const operatorJwt = signJwt(operator, operator.getPublicKey(), "test-operator", { type: "operator" });
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const jetstream = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
  const accountJwt = signJwt(operator, account.getPublicKey(), "test-account", {
    type: "account",
    limits: { ...unlimited, ...jetstream },
  });
  const systemJwt = signJwt(operator, system.getPublicKey(), "SYS", { type: "account", limits: unlimited });
  const userJwt = signJwt(account, user.getPublicKey(), "test-user", {
    type: "user",
    pub: {},
    sub: {},
    subs: -1,
    data: -1,
    payload: -1,
  });
  const seed = new TextDecoder().decode(user.getSeed());
  return {
    serverConfig: [
      `operator: "${operatorJwt}"`,
      `system_account: ${system.getPublicKey()}`,
      "resolver: MEMORY",
      `resolver_preload: { ${account.getPublicKey()}: "${accountJwt}", ${system.getPublicKey()}: "${systemJwt}" }`,
    ].join("\n"),
    creds: [
      "-----BEGIN NATS USER JWT-----",
      userJwt,
      "------END NATS USER JWT------",
      "",
      "-----BEGIN USER NKEY SEED-----",
      seed,
      "------END USER NKEY SEED------",
      "",
    ].join("\n"),
  };
}
