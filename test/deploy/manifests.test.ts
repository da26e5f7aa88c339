/**
 * deploy/ kept consistent with the code: the Dockerfile copies what exists and what npm needs, the entry script
 * starts the files the local launcher starts, the health check speaks grpc.health.v1 to a real server, and every
 * environment variable, port, address and probe in compose.yaml and the Kubernetes manifests is one the code
 * reads or listens on. No Docker engine or cluster is needed: the files are parsed, not deployed.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot, stackServices } from "@ragtune/gateway";
import { createServiceServer, LIVENESS_SERVICE, type ServiceServer } from "@ragtune/runtime";
import { parse } from "yaml";
import {
  addrEnv,
  createDockerignore,
  deployDir,
  entrypointCommands,
  exists,
  type Instruction,
  isServer,
  type K8sObject,
  k8sFiles,
  loadCompose,
  loadYamlDocuments,
  type ProcessName,
  parseCopy,
  parseDockerfile,
  readEnv,
  readRepoFile,
  splitAddress,
  splitUrl,
  stackEntry,
  urlEnvTarget,
  workspaceDirs,
} from "./deploy-files.js";

/** Runs a command; resolves with its exit code and output (never rejects on a non-zero exit). */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** A NATS client set up for the deployment's NATS: TLS with a CA and a client certificate, user and password. */
function assertNatsClientSettings(name: string, get: (key: string) => string | undefined) {
  for (const key of ["NATS_USER", "NATS_PASSWORD", "NATS_TLS_CA_FILE", "NATS_TLS_CERT_FILE", "NATS_TLS_KEY_FILE"]) {
    assert.ok(get(key), `${name}: ${key}`);
  }
}

const unknownNames = (process: ProcessName, names: Iterable<string>) =>
  [...names].filter((n) => !readEnv[process].has(n));

// --- Dockerfile, .dockerignore, entry script -----------------------------------------------------------------------

describe("deploy/Dockerfile", () => {
  const instructions = parseDockerfile(readRepoFile("deploy/Dockerfile"));
  const isIgnored = createDockerignore(readRepoFile(".dockerignore"));
  const of = (keyword: string, stage?: string) =>
    instructions.filter((i) => i.keyword === keyword && (stage === undefined || i.stage === stage));
  const firstInstall = instructions.findIndex((i) => i.keyword === "RUN" && /\bnpm install\b/.test(i.args));

  it("builds from node:20-bookworm-slim with npm install (not npm ci) and npm run build", () => {
    const arg = of("ARG").find((i) => i.args.startsWith("NODE_IMAGE="));
    assert.equal(arg?.args, "NODE_IMAGE=node:20-bookworm-slim");
    for (const from of of("FROM")) assert.match(from.args, /^(\$\{NODE_IMAGE\}|runtime)\s+AS\s+\S+$/i);
    assert.ok(firstInstall >= 0, "a RUN with npm install");
    assert.match(instructions[firstInstall].args, /npm install --no-audit --no-fund/);
    assert.ok(!instructions.some((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args)), "npm ci refuses the lock");
    assert.ok(
      of("RUN", "build").some((i) => /\bnpm run build\b/.test(i.args)),
      "npm run build (buf generate)",
    );
  });

  it("copies every workspace's package.json before npm install, so npm links them all", () => {
    const copiedBefore = instructions
      .slice(0, firstInstall)
      .filter((i) => i.keyword === "COPY")
      .flatMap((i) => {
        const { sources, dest } = parseCopy(i.args);
        return sources.map((s) => (dest.endsWith("/") && dest !== "./" ? `${dest}${s.split("/").pop()}` : s));
      });
    for (const dir of workspaceDirs()) {
      assert.ok(copiedBefore.includes(`${dir}/package.json`), `COPY ${dir}/package.json before npm install`);
    }
    for (const file of ["package.json", "package-lock.json"]) assert.ok(copiedBefore.includes(file), file);
  });

  it("copies from the context only files that exist and that .dockerignore lets through", () => {
    for (const copy of of("COPY").map((i) => ({ i, ...parseCopy(i.args) }))) {
      if (copy.from) continue;
      for (const source of copy.sources) {
        if (source === ".") continue;
        assert.ok(exists(source), `line ${copy.i.line}: COPY ${source}: no such file`);
        assert.ok(!isIgnored(source), `line ${copy.i.line}: COPY ${source} is excluded by .dockerignore`);
      }
    }
  });

  it("copies into the runtime image only what the build stage has: repository files or node_modules", () => {
    for (const copy of of("COPY").map((i) => ({ i, ...parseCopy(i.args) }))) {
      if (copy.from !== "build") continue;
      for (const source of copy.sources) {
        const path = source.replace(/^\/app\//, "");
        if (path === "node_modules") continue;
        assert.ok(exists(path), `line ${copy.i.line}: COPY --from=build ${source}: no such file in the repository`);
        assert.ok(!isIgnored(path), `line ${copy.i.line}: ${path} never reaches the build stage (.dockerignore)`);
      }
    }
  });

  it("keeps host builds out of the context: node_modules (other platform's binaries), generated code, .git", () => {
    for (const path of ["node_modules", "packages/runtime/node_modules", "packages/contracts/src/gen", ".git"]) {
      assert.ok(isIgnored(path), `.dockerignore excludes ${path}`);
    }
    for (const path of ["proto/ragtune/common/v1", "buf.gen.yaml", "third_party/proto", "scripts/run-tests.mjs"]) {
      assert.ok(!isIgnored(path), `.dockerignore lets ${path} through (the build needs it)`);
    }
  });

  it("prunes only packages the lock marks dev-only, tsx among them (the processes run emitted JavaScript)", () => {
    const lock = JSON.parse(readRepoFile("package-lock.json")).packages as Record<string, { dev?: boolean }>;
    const globs = of("RUN", "build")
      .flatMap((i) => [...i.args.matchAll(/node_modules\/(\S+)/g)].map((m) => m[1]))
      .map((glob) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`));
    const topLevel = Object.keys(lock)
      .filter((key) => /^node_modules\/(@[^/]+\/)?[^/@][^/]*$/.test(key))
      .map((key) => key.slice("node_modules/".length));
    // A glob removes a package when it names the package or its scope folder.
    const removed = topLevel.filter((name) => globs.some((g) => g.test(name) || g.test(name.split("/")[0])));
    assert.ok(removed.includes("tsx"), "the build stage removes tsx: nothing compiles TypeScript at run time");
    for (const name of removed) {
      assert.equal(
        lock[`node_modules/${name}`].dev,
        true,
        `${name} is removed but the lock says a run-time package needs it`,
      );
    }
  });

  it("runs as a non-root user through tini and deploy/entrypoint.sh", () => {
    for (const stage of ["runtime", "agent-gpu"]) {
      const users = instructions.filter((i) => i.stage === stage && i.keyword === "USER");
      assert.ok(users.length, `${stage}: USER`);
      assert.ok(!["root", "0"].includes(users[users.length - 1].args.split(":")[0]), `${stage}: last USER non-root`);
    }
    const entrypoint = JSON.parse(of("ENTRYPOINT", "runtime")[0].args) as string[];
    assert.equal(entrypoint[0], "/usr/bin/tini");
    assert.ok(entrypoint.includes("/app/deploy/entrypoint.sh"));
    assert.ok(exists("deploy/entrypoint.sh"));
  });

  it("sets only environment variables a process of the image reads", () => {
    const envNames = (i: Instruction) => [...i.args.matchAll(/(?:^|\s)([A-Z][A-Z0-9_]*)=/g)].map((m) => m[1]);
    // The NVIDIA container runtime's setting, not a process's.
    const platform = new Set(["NVIDIA_DRIVER_CAPABILITIES"]);
    for (const i of of("ENV", "agent-gpu")) {
      assert.deepEqual(
        unknownNames("agent", envNames(i)).filter((n) => !platform.has(n)),
        [],
        `line ${i.line}: ENV the agent does not read`,
      );
    }
    for (const i of of("ENV", "runtime")) {
      const all = new Set(Object.values(readEnv).flatMap((names) => [...names]));
      assert.deepEqual(
        envNames(i).filter((n) => !all.has(n)),
        [],
        `line ${i.line}: ENV no process reads`,
      );
    }
  });
});

describe("deploy/entrypoint.sh", () => {
  const commands = entrypointCommands();

  it("starts each process of gateway/src/stack.ts from the same emitted entry file, and the CLI", () => {
    for (const service of stackServices) {
      assert.equal(commands.get(service.name), stackEntry(service.name), `entrypoint ${service.name}`);
    }
    assert.equal(commands.get("ragtune"), "gateway/dist/cli/main.js");
    for (const [name, entry] of commands) {
      assert.match(entry, /\/dist\/.*\.js$/, `${name}: ${entry} is emitted JavaScript`);
      assert.ok(exists(entry), `${name}: ${entry} exists (npm run build emits it)`);
    }
  });

  it("runs the entry with plain node, without tsx", () => {
    const script = readRepoFile("deploy/entrypoint.sh");
    assert.match(script, /^exec node "\$root\/\$entry" "\$@"$/m);
    assert.ok(!/tsx|--import/.test(script), "no TypeScript loader at run time");
  });

  it("runs the CLI from any working directory", async () => {
    // As in the container: the workspace packages resolve to dist/, not to src/ as under the test runner.
    const nodeOptions = (process.env.NODE_OPTIONS ?? "").replace(/(^|\s)(--conditions|-C)[= ]development(?=\s|$)/g, "");
    const { code, output } = await run("sh", [join(deployDir, "entrypoint.sh"), "ragtune", "help"], tmpdir(), {
      ...process.env,
      NODE_OPTIONS: nodeOptions.trim(),
    });
    assert.equal(code, 0, output);
    assert.match(output, /usage: ragtune <command>/);
  });
});

describe("deploy/healthcheck.mjs against a real ragtune server", () => {
  let server: ServiceServer;
  let target: string;
  let backendUp = true;
  before(async () => {
    server = createServiceServer({
      name: "deploy-test",
      services: [],
      readiness: [
        {
          name: "backend",
          check: async () => {
            if (!backendUp) throw new Error("backend down");
          },
        },
      ],
      // Health checks are exempt from the bearer token, as in a deployment with RAGTUNE_AUTH_TOKEN set.
      authToken: "deploy-test-token",
      healthIntervalMs: 60_000,
    });
    const address = await server.listen("127.0.0.1:0");
    target = `127.0.0.1:${address.port}`;
  });
  after(() => server?.close(0));

  const probe = (...args: string[]) => run(process.execPath, [join(deployDir, "healthcheck.mjs"), ...args], repoRoot);

  it("exits 0 on SERVING and 1 on NOT_SERVING, for the server and a named service", async () => {
    const serving = await probe(target);
    assert.equal(serving.code, 0, serving.output);
    assert.match(serving.output, /SERVING/);
    backendUp = false;
    await server.health.refresh();
    const notServing = await probe(target);
    assert.equal(notServing.code, 1, notServing.output);
    assert.match(notServing.output, /NOT_SERVING/);
    backendUp = true;
    await server.health.refresh();
    assert.equal((await probe(target, "grpc.health.v1.Health")).code, 1, "a service the server does not register");
  });

  it("exits 1 when nothing listens, and 2 on a malformed address", async () => {
    const down = await probe("127.0.0.1:1");
    assert.equal(down.code, 1, down.output);
    assert.match(down.output, /DOWN/);
    assert.equal((await probe("not-an-address")).code, 2);
  });
});

// --- compose.yaml ---------------------------------------------------------------------------------------------------

describe("deploy/compose.yaml", () => {
  const compose = loadCompose();
  const services: Record<string, any> = compose.services;
  const commands = entrypointCommands();

  /** The process a compose service runs from the ragtune image; undefined for third-party images. */
  const processOf = (service: any): ProcessName | undefined => {
    if (service.build?.dockerfile !== "deploy/Dockerfile") return undefined;
    const entrypoint: string[] | undefined = service.entrypoint;
    const afterScript = entrypoint?.[entrypoint.findIndex((a) => a.endsWith("/entrypoint.sh")) + 1];
    return (afterScript ?? service.command?.[0]) as ProcessName;
  };
  const ragtune = Object.entries(services)
    .map(([name, service]) => ({ name, service, process: processOf(service) }))
    .filter((s): s is { name: string; service: any; process: ProcessName } => s.process !== undefined);
  const runningProcess = (process: string) => ragtune.filter((s) => s.process === process);
  const addrPort = (process: string) => {
    const [owner] = runningProcess(process);
    return splitAddress(owner.service.environment[addrEnv(process)]).port;
  };

  it("runs every process of the stack from the image, each with a command the entry script knows", () => {
    for (const { name, process } of ragtune) assert.ok(commands.has(process), `${name}: unknown command ${process}`);
    for (const service of stackServices) {
      assert.ok(runningProcess(service.name).length >= 1, `a compose service runs ${service.name}`);
    }
    assert.ok(runningProcess("ragtune").length >= 1, "a compose service for the CLI");
    for (const { name, service } of ragtune) assert.equal(service.build.context, "..", `${name}: repository root`);
  });

  it("sets only environment variables the process reads", () => {
    for (const { name, service, process } of ragtune) {
      const names = Object.keys(service.environment ?? {});
      assert.deepEqual(unknownNames(process, names), [], `${name} (${process}) sets variables it does not read`);
    }
  });

  it("listens on all interfaces on the port of <SERVICE>_ADDR, published, health-checked there", () => {
    for (const { name, service, process } of ragtune.filter((s) => isServer(s.process))) {
      const addr = service.environment?.[addrEnv(process)];
      assert.ok(addr, `${name}: ${addrEnv(process)} is set`);
      const { host, port } = splitAddress(addr);
      assert.ok(["0.0.0.0", "[::]"].includes(host), `${name}: ${addrEnv(process)} listens on all interfaces`);
      const containerPorts = (service.ports ?? []).map((p: string) => Number(String(p).split(":").pop()));
      assert.deepEqual(containerPorts, [port], `${name}: published port is ${port}`);
      assert.deepEqual(
        service.healthcheck?.test,
        ["CMD", "node", "/app/deploy/healthcheck.mjs", `127.0.0.1:${port}`],
        `${name}: health check on ${port}`,
      );
      assert.ok(exists("deploy/healthcheck.mjs"));
    }
  });

  it("points every <SERVICE>_URL at the compose service running it, on its <SERVICE>_ADDR port", () => {
    for (const { name, service } of ragtune) {
      for (const [key, value] of Object.entries<string>(service.environment ?? {})) {
        const target = urlEnvTarget(key);
        if (!target) continue;
        const url = splitUrl(value);
        assert.equal(processOf(services[url.host]), target, `${name}: ${key} host ${url.host} runs ${target}`);
        assert.equal(url.port, addrPort(target), `${name}: ${key} port`);
      }
    }
  });

  it("gives every process that reads NATS_URL the nats service (JetStream on, on a volume), started first", () => {
    const nats = services.nats;
    assert.match(nats.image, /^nats:/);
    assert.ok(nats.command.includes("--jetstream"), "nats runs with JetStream");
    // TLS with client certificates and a password (deploy/nats/nats.conf; test/deploy/nats-auth.test.ts runs it).
    const conf = nats.command[nats.command.indexOf("--config") + 1];
    assert.ok(nats.volumes.includes(`./nats/nats.conf:${conf}:ro`), "nats reads deploy/nats/nats.conf");
    const storeDir = nats.command[nats.command.indexOf("--store_dir") + 1];
    assert.ok(
      nats.volumes.some((v: string) => v.endsWith(`:${storeDir}`)),
      "the JetStream store is a volume",
    );
    const dependsOnNats = (name: string, seen = new Set<string>()): boolean => {
      if (seen.has(name)) return false;
      seen.add(name);
      const deps = Object.keys(services[name].depends_on ?? {});
      return deps.includes("nats") || deps.some((dep) => dependsOnNats(dep, seen));
    };
    for (const { name, service, process } of ragtune) {
      if (process === "ragtune" || !readEnv[process].has("NATS_URL")) continue;
      const url = splitUrl(service.environment?.NATS_URL ?? "");
      assert.equal(`${url.protocol}//${url.host}:${url.port}`, "tls://nats:4222", `${name}: NATS_URL`);
      assertNatsClientSettings(name, (key) => service.environment?.[key]);
      for (const file of ["NATS_TLS_CA_FILE", "NATS_TLS_CERT_FILE", "NATS_TLS_KEY_FILE"]) {
        const secret = /^\/run\/secrets\/(.+)$/.exec(service.environment[file])?.[1];
        assert.ok(secret && service.secrets?.includes(secret), `${name}: ${file} is a secret the service mounts`);
      }
      assert.ok(dependsOnNats(name), `${name} starts after nats`);
    }
    for (const [name, service] of Object.entries(services)) {
      if (Object.keys(service.depends_on ?? {}).includes("nats") && processOf(service)) {
        assert.ok(service.environment?.NATS_URL, `${name} depends on nats and sets NATS_URL`);
      }
    }
  });

  it("sends traces to a compose service that receives OTLP/HTTP", () => {
    for (const { name, service } of ragtune) {
      const endpoint = service.environment?.OTEL_EXPORTER_OTLP_ENDPOINT;
      if (!endpoint) continue;
      const { host, port } = splitUrl(endpoint);
      assert.ok(services[host], `${name}: OTEL endpoint host ${host} is a compose service`);
      assert.equal(port, 4318, `${name}: OTLP/HTTP port`);
    }
  });

  it("puts vLLM (with LoRA and a GPU reservation) and the GPU agent under the gpu profile", () => {
    const vllm = services.vllm;
    assert.deepEqual(vllm.profiles, ["gpu"]);
    assert.ok(vllm.command.includes("--enable-lora"));
    const gpu = (service: any) =>
      service.deploy?.resources?.reservations?.devices?.some((d: any) => d.capabilities?.includes("gpu"));
    assert.ok(gpu(vllm), "vllm reserves GPUs");
    const gpuAgents = runningProcess("agent").filter((s) => gpu(s.service));
    assert.ok(gpuAgents.length >= 1, "a GPU agent");
    for (const agent of gpuAgents) {
      assert.deepEqual(agent.service.profiles, ["gpu"]);
      assert.equal(agent.service.build.target, "agent-gpu");
    }
    for (const [name, service] of Object.entries(services)) {
      if (gpu(service)) assert.deepEqual(service.profiles, ["gpu"], `${name} needs a GPU: profile gpu`);
    }
  });

  it("declares every named volume it mounts", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = String(volume).split(":")[0];
        if (source.startsWith(".") || source.startsWith("/") || source.startsWith("$")) continue;
        assert.ok(source in (compose.volumes ?? {}), `${name}: volume ${source} is declared`);
      }
    }
  });
});

// --- Kubernetes -----------------------------------------------------------------------------------------------------

/** Objects a kustomization builds: its resources (files and folders, recursively) with ConfigMap patches merged. */
function kustomize(dir: string, used = new Set<string>()): K8sObject[] {
  const path = join(dir, "kustomization.yaml");
  used.add(path);
  const kustomization = parse(readFileSync(join(deployDir, "k8s", path), "utf8"));
  const objects: K8sObject[] = [];
  for (const resource of kustomization.resources ?? []) {
    const child = join(dir, resource);
    if (exists(join("deploy/k8s", child, "kustomization.yaml"))) objects.push(...kustomize(child, used));
    else {
      assert.ok(exists(join("deploy/k8s", child)), `${path}: resource ${resource} exists`);
      used.add(child);
      objects.push(...loadYamlDocuments(child));
    }
  }
  for (const patch of kustomization.patches ?? []) {
    const patchPath = join(dir, patch.path);
    used.add(patchPath);
    for (const fragment of loadYamlDocuments(patchPath)) {
      // Only ConfigMap data is patched here; merging anything else would need kustomize's strategic merge.
      assert.equal(fragment.kind, "ConfigMap", `${patchPath}: this test merges ConfigMap patches only`);
      const base = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === fragment.metadata.name);
      assert.ok(base, `${patchPath}: patches ConfigMap ${fragment.metadata.name}, which exists`);
      base.data = { ...base.data, ...fragment.data };
    }
  }
  if (kustomization.namespace) {
    for (const o of objects)
      if (o.kind !== "Namespace") o.metadata = { ...o.metadata, namespace: kustomization.namespace };
  }
  return objects;
}

interface Workload {
  object: K8sObject;
  pod: any;
  container: any;
  process: ProcessName;
  /** name → value (undefined: from a Secret). */
  env: Map<string, string | undefined>;
}

/** Containers of the ragtune images in these objects, with their environment resolved through ConfigMaps. */
function workloads(objects: K8sObject[]): Workload[] {
  const configMaps = new Map(objects.filter((o) => o.kind === "ConfigMap").map((o) => [o.metadata.name, o.data ?? {}]));
  const out: Workload[] = [];
  for (const object of objects) {
    const pod = object.spec?.template?.spec ?? object.spec?.jobTemplate?.spec?.template?.spec;
    for (const container of pod?.containers ?? []) {
      if (!/^ragtune(-agent-gpu)?(:|$)/.test(container.image)) continue;
      const env = new Map<string, string | undefined>();
      for (const from of container.envFrom ?? []) {
        assert.ok(from.configMapRef, `${object.file} ${object.metadata.name}: envFrom only from ConfigMaps`);
        const data = configMaps.get(from.configMapRef.name);
        assert.ok(data, `${object.file} ${object.metadata.name}: ConfigMap ${from.configMapRef.name} exists`);
        for (const [key, value] of Object.entries<string>(data)) env.set(key, value);
      }
      for (const entry of container.env ?? []) {
        const ref = entry.valueFrom?.configMapKeyRef;
        const secret = entry.valueFrom?.secretKeyRef;
        if (ref) {
          const value = configMaps.get(ref.name)?.[ref.key];
          assert.ok(
            value !== undefined,
            `${object.metadata.name}: ${entry.name} from ${ref.name}.${ref.key}, which exists`,
          );
          env.set(entry.name, value);
        } else if (secret) {
          // No Secret is committed: each reference must be optional so that the manifests apply without one.
          assert.equal(secret.optional, true, `${object.metadata.name}: secretKeyRef ${secret.key} is optional`);
          env.set(entry.name, undefined);
        } else env.set(entry.name, entry.value);
      }
      out.push({ object, pod, container, process: container.args?.[0], env });
    }
  }
  return out;
}

describe("deploy/k8s", () => {
  const used = new Set<string>();
  const base = kustomize("", used);
  const gpu = kustomize("gpu", used);
  const jobFiles = k8sFiles().filter((f) => f.startsWith("jobs/"));
  const jobs = [...base, ...jobFiles.flatMap((f) => loadYamlDocuments(f))];
  const commands = entrypointCommands();

  it("lists every manifest in a kustomization (jobs/ are created on demand)", () => {
    for (const file of k8sFiles()) {
      if (file.startsWith("jobs/")) continue;
      assert.ok(used.has(file), `${file} is in a kustomization`);
    }
    assert.ok(jobFiles.length >= 1, "a Job that runs the experiment");
  });

  it("puts everything in the ragtune namespace", () => {
    for (const object of [...base, ...gpu]) {
      if (object.kind === "Namespace") assert.equal(object.metadata.name, "ragtune");
      else assert.equal(object.metadata.namespace, "ragtune", `${object.kind} ${object.metadata.name}`);
    }
  });

  for (const [stackName, objects] of [
    ["base", base],
    ["gpu", gpu],
    ["jobs", jobs],
  ] as const) {
    describe(`${stackName} stack`, () => {
      const all = workloads(objects);
      const services = objects.filter((o) => o.kind === "Service");
      const podsOf = (service: K8sObject) =>
        objects.filter((o) => {
          const labels = o.spec?.template?.metadata?.labels ?? {};
          const selector = service.spec.selector ?? {};
          return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
        });
      const workloadOf = (process: string) => all.find((w) => w.process === process && isServer(process));
      const addrPort = (process: string) => splitAddress(workloadOf(process)!.env.get(addrEnv(process))!).port;

      it("runs each container with a command the entry script knows, and every server and agent", () => {
        for (const w of all) assert.ok(commands.has(w.process), `${w.object.metadata.name}: command ${w.process}`);
        for (const service of stackServices) {
          assert.ok(
            all.some((w) => w.process === service.name),
            `a workload runs ${service.name}`,
          );
        }
      });

      it("sets only environment variables the process reads", () => {
        for (const w of all) {
          assert.deepEqual(
            unknownNames(w.process, w.env.keys()),
            [],
            `${w.object.file} ${w.object.metadata.name} (${w.process}) sets variables it does not read`,
          );
        }
      });

      it("serves each server on its <SERVICE>_ADDR port, with gRPC probes and a Service on that port", () => {
        for (const w of all.filter((w) => isServer(w.process))) {
          const name = `${w.object.metadata.name}`;
          const addr = w.env.get(addrEnv(w.process));
          assert.ok(addr, `${name}: ${addrEnv(w.process)} is set`);
          const { host, port } = splitAddress(addr);
          assert.ok(["0.0.0.0", "[::]"].includes(host), `${name}: listens on all interfaces`);
          assert.deepEqual(
            w.container.ports.map((p: any) => p.containerPort),
            [port],
            `${name}: containerPort = ${addrEnv(w.process)}`,
          );
          for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) {
            if (probe === "startupProbe" && !w.container[probe]) continue;
            assert.equal(w.container[probe]?.grpc?.port, port, `${name}: ${probe} is gRPC on ${port}`);
          }
          // Liveness must not follow the backends (a NATS outage would restart every pod): the runtime's name.
          assert.equal(w.container.livenessProbe.grpc.service, LIVENESS_SERVICE, `${name}: liveness probes liveness`);
          assert.equal(w.container.readinessProbe.grpc.service, undefined, `${name}: readiness probes the server`);
          const fronting = services.filter((s) => podsOf(s).includes(w.object));
          assert.equal(fronting.length, 1, `${name}: one Service selects its pods`);
          const servicePort = fronting[0].spec.ports.find((p: any) => p.targetPort === "grpc" || p.targetPort === port);
          assert.equal(servicePort?.port, port, `${name}: Service port = ${addrEnv(w.process)}`);
          assert.equal(fronting[0].metadata.name, w.process, `${name}: the Service is named as the process`);
        }
      });

      it("points every <SERVICE>_URL at the Service of that process, on its <SERVICE>_ADDR port", () => {
        for (const w of all) {
          for (const [key, value] of w.env) {
            const target = urlEnvTarget(key);
            if (!target || value === undefined) continue;
            const url = splitUrl(value);
            const service = services.find((s) => s.metadata.name === url.host);
            assert.ok(service, `${w.object.metadata.name}: ${key} host ${url.host} is a Service`);
            assert.ok(
              podsOf(service).includes(workloadOf(target)!.object),
              `${w.object.metadata.name}: ${key} reaches ${target}`,
            );
            assert.equal(url.port, addrPort(target), `${w.object.metadata.name}: ${key} port`);
          }
        }
      });

      it("gives every process that reads NATS_URL the nats Service, in front of JetStream on a volume", () => {
        const natsService = services.find((s) => s.metadata.name === "nats")!;
        const [statefulSet] = podsOf(natsService);
        assert.equal(statefulSet?.kind, "StatefulSet", "the nats Service selects the NATS StatefulSet");
        const container = statefulSet.spec.template.spec.containers[0];
        assert.ok(container.ports.some((p: any) => p.containerPort === 4222));
        assert.ok(natsService.spec.ports.some((p: any) => p.port === 4222));
        const config = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "nats-config")!;
        assert.match(config.data["nats.conf"], /jetstream\s*\{[^}]*store_dir:\s*\/data/);
        // Clients need TLS with a certificate from the deployment's CA, and the ragtune user's password.
        assert.match(config.data["nats.conf"], /tls\s*\{[^}]*ca_file:[^}]*verify:\s*true/);
        assert.match(config.data["nats.conf"], /authorization\s*\{[^}]*password:\s*\$NATS_PASSWORD/);
        assert.ok(statefulSet.spec.volumeClaimTemplates.some((t: any) => t.metadata.name === "data"));
        for (const w of all) {
          if (!readEnv[w.process].has("NATS_URL") || w.process === "ragtune") continue;
          const url = splitUrl(w.env.get("NATS_URL") ?? "");
          assert.equal(`${url.protocol}//${url.host}:${url.port}`, "tls://nats:4222", `${w.object.metadata.name}`);
          assertNatsClientSettings(w.object.metadata.name ?? "(unnamed)", (key) =>
            w.env.has(key) ? (w.env.get(key) ?? "(from a Secret)") : undefined,
          );
          const mounts = (w.container.volumeMounts ?? []).map((m: any) => m.mountPath as string);
          for (const file of ["NATS_TLS_CA_FILE", "NATS_TLS_CERT_FILE", "NATS_TLS_KEY_FILE"]) {
            const path = w.env.get(file) ?? "";
            assert.ok(
              mounts.some((m: string) => path.startsWith(`${m}/`)),
              `${w.object.metadata.name}: ${file} is on a mount`,
            );
          }
        }
      });

      it("runs non-root with resource requests and a memory limit", () => {
        for (const w of all) {
          assert.equal(w.pod.securityContext?.runAsNonRoot, true, `${w.object.metadata.name}: runAsNonRoot`);
          assert.equal(w.container.securityContext?.allowPrivilegeEscalation, false);
          assert.ok(w.container.resources?.requests?.cpu && w.container.resources?.requests?.memory);
          assert.ok(w.container.resources?.limits?.memory, `${w.object.metadata.name}: memory limit`);
          if (w.container.securityContext?.readOnlyRootFilesystem) {
            const mounts = (w.container.volumeMounts ?? []).map((m: any) => m.mountPath);
            assert.ok(mounts.includes("/tmp"), `${w.object.metadata.name}: /tmp writable (tsx's cache)`);
          }
        }
      });

      it("keeps GATEWAY_DATA_DIR on a volume, and the trainer and agents off it (manifests travel through NATS)", () => {
        const gateway = workloadOf("gateway")!;
        const dataDir = gateway.env.get("GATEWAY_DATA_DIR")!;
        const mountOf = (w: Workload) =>
          (w.container.volumeMounts ?? []).find((m: any) => dataDir.startsWith(`${m.mountPath}/`));
        const claim = (w: Workload) =>
          w.pod.volumes.find((v: any) => v.name === mountOf(w)?.name)?.persistentVolumeClaim?.claimName;
        assert.ok(claim(gateway), "GATEWAY_DATA_DIR is on a PersistentVolumeClaim");
        for (const w of all.filter((w) => w.process === "trainer" || w.process === "agent")) {
          assert.equal(claim(w), undefined, `${w.object.metadata.name} needs no volume shared with the gateway`);
        }
      });
    });
  }

  it("gives each GPU agent a GPU and vLLM --enable-lora (gpu overlay)", () => {
    const gpuAgents = workloads(gpu).filter((w) => w.process === "agent" && w.container.image.includes("agent-gpu"));
    assert.ok(gpuAgents.length >= 1);
    for (const w of gpuAgents) assert.ok(Number(w.container.resources.limits["nvidia.com/gpu"]) >= 1);
    const vllm = gpu.find((o) => o.kind === "Deployment" && o.metadata.name === "vllm")!;
    assert.ok(vllm.spec.template.spec.containers[0].args.includes("--enable-lora"));
    const generator = workloads(gpu).find((w) => w.process === "generator")!;
    const { host, port } = splitUrl(generator.env.get("GENERATOR_OPENAI_BASE_URL")!);
    const service = gpu.find((o) => o.kind === "Service" && o.metadata.name === host);
    assert.ok(
      service?.spec.ports.some((p: any) => p.port === port),
      "the generator reaches vLLM's Service",
    );
  });

  it("names images that a kustomization `images` entry sets, as compose tags them", () => {
    const compose = loadCompose();
    const composeImages = Object.values<any>(compose.services).map((s) => String(s.image ?? ""));
    for (const [dir, objects] of [
      ["base", base],
      ["gpu", gpu],
    ] as const) {
      const kustomization = parse(readFileSync(join(deployDir, "k8s", dir, "kustomization.yaml"), "utf8"));
      const rewritten = new Set<string>((kustomization.images ?? []).map((i: any) => i.name));
      if (dir === "gpu") rewritten.add("ragtune");
      for (const w of workloads(objects)) {
        assert.ok(rewritten.has(w.container.image), `${dir}: image ${w.container.image} is set by kustomization.yaml`);
        assert.ok(
          composeImages.some((image) => image.includes(`${w.container.image}:`)),
          `compose.yaml builds ${w.container.image}`,
        );
      }
    }
  });
});
