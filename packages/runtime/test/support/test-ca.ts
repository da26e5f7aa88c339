/** A throwaway certificate authority for TLS tests, made with the openssl CLI: a CA, a server and a client cert. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCa {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

function openssl(dir: string, ...args: string[]) {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** Signs a key's certificate with the CA; the server's names 127.0.0.1 and localhost. */
function issue(dir: string, name: string, extensions: string) {
  openssl(
    dir,
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}-key.pem`,
    "-subj",
    `/CN=${name}`,
    "-out",
    `${name}.csr`,
  );
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(
    dir,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca-key.pem",
    "-CAcreateserial",
    "-days",
    "1",
    "-sha256",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.pem`,
  );
}

export function createTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-test-ca-"));
  openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca-key.pem",
    "-subj",
    "/CN=ragtune test CA",
    "-days",
    "1",
    "-out",
    "ca.pem",
  );
  issue(dir, "server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  issue(dir, "client", "extendedKeyUsage=clientAuth\n");
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    serverCertFile: join(dir, "server.pem"),
    serverKeyFile: join(dir, "server-key.pem"),
    clientCertFile: join(dir, "client.pem"),
    clientKeyFile: join(dir, "client-key.pem"),
  };
}
