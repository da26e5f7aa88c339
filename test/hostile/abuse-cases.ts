/**
 * Hostile rows that need more than one bad field: abusive streams, adapter archives planted in the Object Store
 * by someone with NATS access, and experiment specs that point at files they must not read.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { connectNats } from "@ragtune/runtime";
import { type CaseContext, type HostileCase, OK, type Outcome, outcomeOf, outcomeOfRaw } from "./cases.js";
import { ACCEPTED_BY_TODO_ROW, SEED, validSpec } from "./hostile-stack.js";
import { rawCall } from "./raw-grpc.js";

type IngestMessage =
  | { item: { case: "header"; value: { collection: string } } }
  | { item: { case: "document"; value: { id: string; text: string } } };
const header = (collection = SEED.collection): IngestMessage => ({ item: { case: "header", value: { collection } } });
const doc = (id: string, text = "abusive text"): IngestMessage => ({ item: { case: "document", value: { id, text } } });

/** How far the client got through an endless stream before the server's answer stopped it. */
async function endlessIngest(ctx: CaseContext, first: IngestMessage[], limit: number): Promise<Outcome> {
  let sent = 0;
  const outcome = await outcomeOf(
    ctx.clients.retriever.ingestDocuments(
      (async function* () {
        yield* first;
        for (; sent < limit; sent++) yield doc(`endless-${sent}`);
      })(),
      { timeoutMs: 20_000 },
    ),
  );
  // The server must answer at the bad message, not read the whole (here bounded, in life endless) stream.
  if (sent >= limit) return { code: Code.Unknown, message: `the server read all ${limit} messages after the bad one` };
  return outcome;
}

function streamRows(): HostileCase[] {
  const ingest = (what: string, field: string, run: (ctx: CaseContext) => Promise<Outcome>): HostileCase => ({
    service: "retriever",
    rpc: "IngestDocuments",
    what,
    code: Code.InvalidArgument,
    field,
    run,
  });
  return [
    ingest("an invalid first document followed by an endless stream", "document.id", (ctx) =>
      endlessIngest(ctx, [header(), doc("")], 50_000),
    ),
    ingest("a second header followed by an endless stream", "header", (ctx) =>
      endlessIngest(ctx, [header(), header()], 50_000),
    ),
    ingest("a document with 10,000 metadata entries", "document.metadata", (ctx) =>
      outcomeOf(
        ctx.clients.retriever.ingestDocuments(
          (async function* () {
            yield header();
            const metadata = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, "v"]));
            yield { item: { case: "document" as const, value: { id: "meta", text: "t", metadata } } };
          })(),
        ),
      ),
    ),
    {
      service: "gateway",
      rpc: "WatchExperiment",
      what: "200 watches of one experiment at once, each dropped after its first update",
      code: OK,
      async run(ctx) {
        const watches = Array.from({ length: 200 }, async () => {
          const abort = new AbortController();
          for await (const _ of ctx.clients.gateway.watchExperiment(
            { experimentId: SEED.experiment },
            { signal: abort.signal, timeoutMs: 20_000 },
          )) {
            abort.abort();
            break;
          }
        });
        const outcomes = await Promise.all(watches.map((w) => outcomeOf(w)));
        return outcomes.find((o) => o.code !== OK) ?? { code: OK, message: "" };
      },
    },
  ];
}

/** A ustar archive of the given entries (type "0" file, "2" symbolic link), as a hostile writer would make it. */
function ustar(entries: Array<{ name: string; type?: string; body?: string; link?: string }>): Uint8Array {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? "");
    const head = Buffer.alloc(512);
    head.write(e.name, 0, 100);
    head.write("0000644\0", 100);
    head.write("0000000\0", 108);
    head.write("0000000\0", 116);
    head.write(`${body.length.toString(8).padStart(11, "0")}\0`, 124);
    head.write("00000000000\0", 136);
    head.write("        ", 148);
    head.write(e.type ?? "0", 156);
    head.write(e.link ?? "", 157, 100);
    head.write("ustar\0" + "00", 257);
    let sum = 0;
    for (const byte of head) sum += byte;
    head.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    blocks.push(head, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** Writes `<id>.tar` straight into the adapters bucket, as anyone who reaches NATS could. */
async function plantArchive(ctx: CaseContext, adapterId: string, archive: Uint8Array): Promise<void> {
  const nats = await connectNats({ url: ctx.natsUrl, name: "hostile-suite", connectTimeoutMs: 15_000 });
  try {
    const store = await nats.objm.create("ragtune-adapters");
    await store.putBlob({ name: `${adapterId}.tar` }, archive);
  } finally {
    await nats.nc.close();
  }
}

function archiveRows(): HostileCase[] {
  const planted = (what: string, adapterId: string, archive: Uint8Array, backend: string): HostileCase => ({
    service: "generator",
    rpc: "Generate",
    what: `adapter archive: ${what} (${backend} backend)`,
    // The adapter exists but cannot be served: FAILED_PRECONDITION naming it, as the OpenAI backend answers.
    code: Code.FailedPrecondition,
    field: "adapter",
    async run(ctx) {
      await plantArchive(ctx, adapterId, archive);
      const model =
        backend === "extractive"
          ? { backend, baseModel: "extractive-reader", adapter: adapterId }
          : { backend, baseModel: SEED.judgeModel, adapter: adapterId };
      const outcome = await outcomeOf(
        ctx.clients.generator.generate({ question: "q", contexts: [{ text: "context" }], model }),
      );
      const escaped = join(ctx.adapterDir, "..", "hostile-escaped");
      if (existsSync(escaped)) return { code: Code.Unknown, message: `the archive wrote ${escaped}` };
      return outcome;
    },
  });
  const garbage = Buffer.from("this is not a tar archive, just text ".repeat(40));
  const traversal = ustar([
    { name: "../hostile-escaped", body: "x" },
    { name: "adapter_config.json", body: "{}" },
  ]);
  const link = ustar([{ name: "adapter_config.json", type: "2", link: "/etc/passwd" }]);
  return [
    planted("bytes that are not a tar", "hostile-garbage", garbage, "extractive"),
    planted("a tar without the reader's weights", "hostile-empty", ustar([{ name: "x.txt", body: "x" }]), "extractive"),
    planted("an entry named ../", "hostile-traversal-openai", traversal, "openai"),
    planted("a symbolic link to /etc/passwd", "hostile-link-openai", link, "openai"),
    planted("bytes that are not a tar", "hostile-garbage-openai", garbage, "openai"),
  ];
}

/** Experiment specs that name files or values the gateway must refuse, as JSON over Connect and as protobuf. */
function specRows(): HostileCase[] {
  const path = (what: string, dataPath: string, todo?: string): HostileCase => ({
    service: "gateway",
    rpc: "CreateExperiment",
    what: `dataset path ${what}`,
    code: Code.InvalidArgument,
    field: "spec.datasets[0].paths[0]",
    mustNotContain: "root:",
    todo,
    run: (ctx) =>
      outcomeOf(
        ctx.clients.gateway.createExperiment({
          spec: { ...validSpec(ctx.datasetDir), datasets: [{ format: "bioasq", paths: [dataPath] }] },
        }),
      ),
  });
  const json = (what: string, body: string): HostileCase => ({
    service: "gateway",
    rpc: "CreateExperiment",
    what: `JSON spec: ${what}`,
    code: Code.InvalidArgument,
    run: async (ctx) =>
      outcomeOfRaw(
        await rawCall(
          ctx.url("gateway"),
          "/ragtune.gateway.v1.ExperimentService/CreateExperiment",
          [Buffer.from(body)],
          {
            contentType: "application/json",
            headers: { "connect-protocol-version": "1" },
          },
        ),
      ),
  });
  return [
    path("/dev/zero (endless)", "/dev/zero"),
    path("/etc/passwd (a file outside the data folders)", "/etc/passwd"),
    path("climbing out with ../", "../../../../../../etc"),
    path("with NUL", "datasets/bioasq\u0000.json"),
    {
      service: "gateway",
      rpc: "CreateExperiment",
      what: "spec.name with a slash",
      code: Code.InvalidArgument,
      field: "spec.name",
      // Were it accepted, its experiment is named ACCEPTED_BY_TODO_ROW: the row fails and the state check still
      // compares everything else.
      run: (ctx) =>
        outcomeOf(
          ctx.clients.gateway.createExperiment({
            experimentId: `${ACCEPTED_BY_TODO_ROW}spec-name`,
            spec: { ...validSpec(ctx.datasetDir), name: "../x" },
          }),
        ),
    },
    json("not JSON", '{"spec": {'),
    json("a number where the name goes", '{"spec": {"name": 42}}'),
    json("a seed that is not a number", '{"spec": {"seed": "forty"}}'),
    json("an enum name the proto does not define", '{"spec": {"methods": ["FINE_TUNE_METHOD_BOGUS"]}}'),
    json("100,000 nested arrays", `{"spec": {"finetuneSizes": ${"[".repeat(100_000)}${"]".repeat(100_000)}}}`),
    json("an unknown field", '{"spec": {"name": "x", "rm -rf": true}}'),
  ];
}

export function abuseCases(): HostileCase[] {
  return [...streamRows(), ...archiveRows(), ...specRows()];
}
