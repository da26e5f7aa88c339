/**
 * The hostile-input table: one row per malformed or hostile request, each with the exact answer it must get.
 * Rows come from a few generators (every method gets undecodable bytes; every name field gets the traversal
 * names; every enum field an unknown value) and hand-written rows for streams, archives and specs.
 */
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { ExperimentService } from "@ragtune/contracts/gateway";
import { GeneratorService } from "@ragtune/contracts/generator";
import { JudgeService, ScoringMode } from "@ragtune/contracts/judge";
import { RetrieverService } from "@ragtune/contracts/retriever";
import { TrainerService } from "@ragtune/contracts/trainer";
import type { HostileClients, HostileService } from "./hostile-stack.js";
import { SEED, validSpec } from "./hostile-stack.js";
import { envelope, type RawAnswer, rawCall } from "./raw-grpc.js";

export interface CaseContext {
  clients: HostileClients;
  url(service: HostileService): string;
  natsUrl: string;
  datasetDir: string;
  adapterDir: string;
}

export interface Outcome {
  code: Code;
  message: string;
}

export interface HostileCase {
  service: HostileService;
  rpc: string;
  what: string;
  code: Code;
  /** For INVALID_ARGUMENT: the field path the message must start with. */
  field?: string;
  /** What another answer's message must start with (an unparseable body's "parse binary"). */
  messagePrefix?: string;
  /** Text the answer must never contain (file content a read could echo). */
  mustNotContain?: string;
  /** Why this row fails today (the fix another item of issue 13 brings); node:test reports it as todo. */
  todo?: string;
  run(ctx: CaseContext): Promise<Outcome>;
}

/** gRPC status 0, which connect's Code enum leaves out. */
export const OK = 0 as Code;
/** A number no ragtune enum defines. */
const UNKNOWN_ENUM = 99 as never;

/**
 * A request body that does not parse as the method's protobuf message is answered INTERNAL, as gRPC's status-code
 * table prescribes for the server library ("Error parsing request proto | INTERNAL | Server", grpc/grpc
 * doc/statuscodes.md) and as grpc-go and grpc-java answer: clients in other languages see the standard code.
 * INVALID_ARGUMENT stays the answer to a message that parses but holds a bad field, which names the field.
 */
const UNPARSEABLE_REQUEST = Code.Internal;

/** The outcome of a generated client's call: OK or the error's code and raw message. */
export async function outcomeOf(call: Promise<unknown>): Promise<Outcome> {
  try {
    await call;
    return { code: OK, message: "" };
  } catch (error) {
    const e = ConnectError.from(error);
    return { code: e.code, message: e.rawMessage };
  }
}

/** The outcome of a raw call, read from its gRPC status or its Connect/JSON error body. */
export function outcomeOfRaw(answer: RawAnswer): Outcome {
  if (answer.grpcStatus !== undefined) return { code: answer.grpcStatus, message: answer.grpcMessage };
  if (answer.resetCode !== undefined && answer.httpStatus === 0) {
    // A reset stream carries no status; name it so the row's failure says what happened.
    return { code: Code.Unknown, message: `stream reset (code ${answer.resetCode}) without a status` };
  }
  if (answer.httpStatus === 200) return { code: OK, message: "" };
  try {
    const error = JSON.parse(answer.body) as { code?: string; message?: string };
    const name = (error.code ?? "").replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    const code = Object.entries(Code).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
    return { code: (typeof code === "number" ? code : Code.Unknown) as Code, message: error.message ?? "" };
  } catch {
    return { code: Code.Unknown, message: `HTTP ${answer.httpStatus}: ${answer.body.slice(0, 200)}` };
  }
}

const SERVICES: Record<HostileService, DescService> = {
  retriever: RetrieverService,
  trainer: TrainerService,
  generator: GeneratorService,
  judge: JudgeService,
  gateway: ExperimentService,
};

const grpcPath = (service: HostileService, method: string) => `/${SERVICES[service].typeName}/${method}`;

/** Every method of every service: bytes that are not a protobuf message, and a field of the wrong wire type. */
function undecodableRows(): HostileCase[] {
  return Object.entries(SERVICES).flatMap(([name, desc]) => {
    const service = name as HostileService;
    return desc.methods.flatMap((method): HostileCase[] => {
      const rows: HostileCase[] = [
        {
          service,
          rpc: method.name,
          what: "bytes that do not decode as protobuf (a truncated varint)",
          code: UNPARSEABLE_REQUEST,
          messagePrefix: "parse binary",
          run: async (ctx) =>
            outcomeOfRaw(
              await rawCall(ctx.url(service), grpcPath(service, method.name), [
                envelope(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff])),
              ]),
            ),
        },
        {
          service,
          rpc: method.name,
          what: "a JSON body of the wrong type (an array for the request object)",
          code: Code.InvalidArgument,
          // Unary: Connect's JSON (curl's path); streams: gRPC with the JSON codec, whose status is a trailer.
          run: async (ctx) =>
            outcomeOfRaw(
              method.methodKind === "unary"
                ? await rawCall(ctx.url(service), grpcPath(service, method.name), [Buffer.from("[1,2,3]")], {
                    contentType: "application/json",
                    headers: { "connect-protocol-version": "1" },
                  })
                : await rawCall(ctx.url(service), grpcPath(service, method.name), [envelope(Buffer.from("[1,2,3]"))], {
                    contentType: "application/grpc+json",
                  }),
            ),
        },
      ];
      const first = method.input.fields.find((f) => f.number === 1);
      if (first && (first.fieldKind === "message" || first.scalar === 9) /* string */) {
        rows.push({
          service,
          rpc: method.name,
          what: `field ${first.name} (number 1) sent as a varint, not length-delimited`,
          code: UNPARSEABLE_REQUEST,
          messagePrefix: "parse binary",
          run: async (ctx) =>
            outcomeOfRaw(
              await rawCall(ctx.url(service), grpcPath(service, method.name), [
                envelope(Buffer.from([0x08, 0x96, 0x01])),
              ]),
            ),
        });
      }
      if (method.methodKind === "unary") {
        rows.push({
          service,
          rpc: method.name,
          what: "two request messages to a unary method",
          // A protocol violation, not a field: UNIMPLEMENTED as connect (Go and ES) answers it.
          code: Code.Unimplemented,
          run: async (ctx) =>
            outcomeOfRaw(
              await rawCall(ctx.url(service), grpcPath(service, method.name), [
                envelope(Buffer.alloc(0)),
                envelope(Buffer.alloc(0)),
              ]),
            ),
        });
      }
      return rows;
    });
  });
}

/** A judge configuration the judge accepts (the stack's test model), for rows that break another field. */
const JUDGE = { model: { baseModel: SEED.judgeModel, backend: "openai" }, mode: ScoringMode.SINGLE, repeats: 1 };
/** A job spec the trainer's validation accepts, for rows that break another field. */
const JOB_SPEC = {
  baseModel: "m",
  method: FineTuneMethod.LORA,
  epochs: 1,
  microBatchSize: 1,
  learningRate: 1e-4,
  loraRank: 8,
  loraAlpha: 16,
  maxSeqLength: 512,
  trainingData: { manifestUri: "nats-obj://ragtune-manifests/none", pool: "p" },
};

const MiB = 1024 * 1024;
const huge = (bytes: number) => "x".repeat(bytes);

/** Per service: one request of 16 MiB, and a length prefix that claims 1 GiB. */
function oversizedRows(): HostileCase[] {
  const big: Array<[HostileService, string, (ctx: CaseContext) => Promise<unknown>]> = [
    [
      "retriever",
      "Search",
      (ctx) => ctx.clients.retriever.search({ collection: SEED.collection, query: huge(32 * MiB) }),
    ],
    ["trainer", "GetJob", (ctx) => ctx.clients.trainer.getJob({ jobId: huge(32 * MiB) })],
    ["generator", "Generate", (ctx) => ctx.clients.generator.generate({ question: huge(32 * MiB) })],
    [
      "judge",
      "Score",
      (ctx) => ctx.clients.judge.score({ item: { itemId: "a", question: "q", answer: huge(32 * MiB) }, judge: JUDGE }),
    ],
    ["gateway", "GetExperiment", (ctx) => ctx.clients.gateway.getExperiment({ experimentId: huge(32 * MiB) })],
  ];
  const declared: Array<[HostileService, string]> = [
    ["retriever", "Search"],
    ["trainer", "SubmitJob"],
    ["generator", "Generate"],
    ["judge", "ScoreBatch"],
    ["gateway", "CreateExperiment"],
  ];
  return [
    ...big.map(
      ([service, rpc, call]): HostileCase => ({
        service,
        rpc,
        what: "a 32 MiB request",
        code: Code.ResourceExhausted,
        run: (ctx) => outcomeOf(call(ctx)),
      }),
    ),
    ...declared.map(
      ([service, rpc]): HostileCase => ({
        service,
        rpc,
        what: "a length prefix claiming 1 GiB (16 bytes sent)",
        code: Code.ResourceExhausted,
        run: async (ctx) =>
          outcomeOfRaw(await rawCall(ctx.url(service), grpcPath(service, rpc), [envelope(Buffer.alloc(16), 1 << 30)])),
      }),
    ),
  ];
}

/** Names that must never reach a path, a KV key or a subject as they are. */
const HOSTILE_NAMES: Array<[what: string, name: string]> = [
  ["a parent-directory name", "../x"],
  ["a name with a slash", "a/b"],
  ["a name with NUL", "a\u0000b"],
  ["a name of 10,000 characters", huge(10_000)],
  ["a NATS wildcard", "a.*"],
  ["the parent directory itself", ".."],
];

type NameCall = (ctx: CaseContext, name: string) => Promise<unknown>;

const NAME_FIELDS: Array<[HostileService, string, string, NameCall]> = [
  ["retriever", "CreateCollection", "name", (ctx, name) => ctx.clients.retriever.createCollection({ name })],
  ["retriever", "DeleteCollection", "name", (ctx, name) => ctx.clients.retriever.deleteCollection({ name })],
  ["retriever", "DescribeCollection", "name", (ctx, name) => ctx.clients.retriever.describeCollection({ name })],
  ["retriever", "GetCollectionStats", "name", (ctx, name) => ctx.clients.retriever.getCollectionStats({ name })],
  ["retriever", "Search", "collection", (ctx, name) => ctx.clients.retriever.search({ collection: name, query: "q" })],
  [
    "retriever",
    "IngestDocuments",
    "header.collection",
    (ctx, name) =>
      ctx.clients.retriever.ingestDocuments(
        (async function* () {
          yield { item: { case: "header" as const, value: { collection: name } } };
          yield { item: { case: "document" as const, value: { id: "d", text: "t" } } };
        })(),
      ),
  ],
  ["trainer", "SubmitJob", "job_id", (ctx, name) => ctx.clients.trainer.submitJob({ jobId: name, spec: JOB_SPEC })],
  ["trainer", "GetJob", "job_id", (ctx, name) => ctx.clients.trainer.getJob({ jobId: name })],
  ["trainer", "CancelJob", "job_id", (ctx, name) => ctx.clients.trainer.cancelJob({ jobId: name })],
  [
    "trainer",
    "WatchJob",
    "job_id",
    async (ctx, name) => {
      for await (const _ of ctx.clients.trainer.watchJob({ jobId: name }, { timeoutMs: 5_000 })) break;
    },
  ],
  [
    "trainer",
    "RegisterNode",
    "node.node_id",
    (ctx, name) =>
      ctx.clients.trainer.registerNode({ node: { nodeId: name, hostname: "h", executors: ["cpu-reader"] } }),
  ],
  ["trainer", "Heartbeat", "node_id", (ctx, name) => ctx.clients.trainer.heartbeat({ nodeId: name })],
  ["trainer", "AcquireJob", "node_id", (ctx, name) => ctx.clients.trainer.acquireJob({ nodeId: name })],
  [
    "trainer",
    "ReportJob",
    "node_id",
    (ctx, name) =>
      ctx.clients.trainer.reportJob({ nodeId: name, jobId: "j", attempt: 1, report: { case: "progress", value: {} } }),
  ],
  ["trainer", "GetAdapter", "adapter_id", (ctx, name) => ctx.clients.trainer.getAdapter({ adapterId: name })],
  [
    "generator",
    "Generate",
    "model.adapter",
    (ctx, name) => ctx.clients.generator.generate({ question: "q", model: { adapter: name } }),
  ],
  [
    "judge",
    "Score",
    "criteria[0]",
    (ctx, name) =>
      ctx.clients.judge.score({ item: { itemId: "i", question: "q", answer: "a" }, criteria: [name], judge: JUDGE }),
  ],
  [
    "gateway",
    "CreateExperiment",
    "experiment_id",
    (ctx, name) =>
      ctx.clients.gateway.createExperiment({
        experimentId: name,
        spec: validSpec(ctx.datasetDir),
      }),
  ],
  ["gateway", "StartExperiment", "experiment_id", (ctx, n) => ctx.clients.gateway.startExperiment({ experimentId: n })],
  ["gateway", "GetExperiment", "experiment_id", (ctx, n) => ctx.clients.gateway.getExperiment({ experimentId: n })],
  [
    "gateway",
    "CancelExperiment",
    "experiment_id",
    (ctx, n) => ctx.clients.gateway.cancelExperiment({ experimentId: n }),
  ],
  ["gateway", "GetResults", "experiment_id", (ctx, n) => ctx.clients.gateway.getResults({ experimentId: n })],
  [
    "gateway",
    "WatchExperiment",
    "experiment_id",
    async (ctx, n) => {
      for await (const _ of ctx.clients.gateway.watchExperiment({ experimentId: n }, { timeoutMs: 5_000 })) break;
    },
  ],
  [
    "gateway",
    "ExportAnswers",
    "experiment_id",
    async (ctx, n) => {
      for await (const _ of ctx.clients.gateway.exportAnswers({ experimentId: n }, { timeoutMs: 5_000 })) break;
    },
  ],
];

function nameRows(): HostileCase[] {
  return NAME_FIELDS.flatMap(([service, rpc, field, call]) =>
    HOSTILE_NAMES.map(
      ([what, name]): HostileCase => ({
        service,
        rpc,
        what,
        code: Code.InvalidArgument,
        field,
        run: (ctx) => outcomeOf(call(ctx, name)),
      }),
    ),
  );
}

/** Enum fields given a number the proto does not define. */
function unknownEnumRows(): HostileCase[] {
  const rows: Array<[HostileService, string, string, (ctx: CaseContext) => Promise<unknown>]> = [
    [
      "retriever",
      "Search",
      "mode",
      (ctx) => ctx.clients.retriever.search({ collection: SEED.collection, query: "q", mode: UNKNOWN_ENUM }),
    ],
    [
      "generator",
      "Generate",
      "truncation",
      (ctx) => ctx.clients.generator.generate({ question: "q", truncation: UNKNOWN_ENUM }),
    ],
    [
      "judge",
      "Score",
      "judge.mode",
      (ctx) =>
        ctx.clients.judge.score({ item: { itemId: "i", question: "q", answer: "a" }, judge: { mode: UNKNOWN_ENUM } }),
    ],
    [
      "judge",
      "ScoreBatch",
      "judge.repeat_strategy",
      (ctx) =>
        ctx.clients.judge.scoreBatch({
          items: [{ itemId: "i", question: "q", answer: "a" }],
          judge: { mode: ScoringMode.SINGLE, repeatStrategy: UNKNOWN_ENUM },
        }),
    ],
    [
      "trainer",
      "SubmitJob",
      "spec.method",
      (ctx) =>
        ctx.clients.trainer.submitJob({
          jobId: "hostile-enum",
          spec: { ...JOB_SPEC, method: UNKNOWN_ENUM },
        }),
    ],
    ["trainer", "ListJobs", "states[0]", (ctx) => ctx.clients.trainer.listJobs({ states: [UNKNOWN_ENUM] })],
    [
      "trainer",
      "ReportJob",
      "failed.failure_class",
      (ctx) =>
        ctx.clients.trainer.reportJob({
          nodeId: SEED.node,
          jobId: "hostile-none",
          attempt: 1,
          report: { case: "failed", value: { failureClass: UNKNOWN_ENUM, message: "m" } },
        }),
    ],
    [
      "gateway",
      "CreateExperiment",
      "spec.methods[0]",
      (ctx) =>
        ctx.clients.gateway.createExperiment({
          spec: { ...validSpec(ctx.datasetDir), finetuneSizes: [0, 10], methods: [UNKNOWN_ENUM] },
        }),
    ],
  ];
  return rows.map(([service, rpc, field, call]) => ({
    service,
    rpc,
    what: "an enum value the proto does not define (99)",
    code: Code.InvalidArgument,
    field,
    run: (ctx) => outcomeOf(call(ctx)),
  }));
}

export function hostileCases(): HostileCase[] {
  return [...undecodableRows(), ...oversizedRows(), ...nameRows(), ...unknownEnumRows()];
}
