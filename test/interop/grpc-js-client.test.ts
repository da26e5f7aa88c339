/** A client of another stack, @grpc/grpc-js with proto-loader, built from the .proto files alone. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { repoRoot } from "@ragtune/gateway";
import { startTestStack, type TestStack } from "../support/stack.js";

const definitions = protoLoader.loadSync(
  [
    "ragtune/retriever/v1/retriever.proto",
    "ragtune/trainer/v1/trainer.proto",
    "ragtune/generator/v1/generator.proto",
    "ragtune/judge/v1/judge.proto",
    "ragtune/gateway/v1/gateway.proto",
    "grpc/health/v1/health.proto",
  ],
  {
    includeDirs: [join(repoRoot, "proto"), join(repoRoot, "third_party/proto")],
    keepCase: true,
    defaults: true,
    enums: String,
  },
);
const loaded = grpc.loadPackageDefinition(definitions) as any;

function call<T>(client: any, method: string, request: object): Promise<T> {
  return new Promise((resolve, reject) =>
    client[method](request, { deadline: Date.now() + 10_000 }, (error: grpc.ServiceError | null, res: T) =>
      error ? reject(error) : resolve(res),
    ),
  );
}

describe("@grpc/grpc-js client", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(() => stack?.stop());

  it("checks health and calls one RPC of every service", async () => {
    const services: Array<[string, any, string, object]> = [
      ["retriever", loaded.ragtune.retriever.v1.RetrieverService, "ListCollections", {}],
      ["trainer", loaded.ragtune.trainer.v1.TrainerService, "ListNodes", {}],
      ["generator", loaded.ragtune.generator.v1.GeneratorService, "ListModels", {}],
      ["judge", loaded.ragtune.judge.v1.JudgeService, "ListCriteria", {}],
      ["gateway", loaded.ragtune.gateway.v1.ExperimentService, "ListExperiments", {}],
    ];
    for (const [name, Service, method, request] of services) {
      const target = stack.targets[name];
      const health = new loaded.grpc.health.v1.Health(target, grpc.credentials.createInsecure());
      const status = await call<{ status: string }>(health, "Check", { service: "" });
      assert.equal(status.status, "SERVING", `${name} health`);
      const client = new Service(target, grpc.credentials.createInsecure());
      const res = await call<object>(client, method, request);
      assert.equal(typeof res, "object", `${name} ${method}`);
      client.close();
      health.close();
    }
    const judge = new loaded.ragtune.judge.v1.JudgeService(stack.targets.judge, grpc.credentials.createInsecure());
    const criteria = await call<{ criteria: Array<{ name: string }> }>(judge, "ListCriteria", {});
    assert.ok(criteria.criteria.some((c) => c.name === "accuracy"));
    judge.close();
  });

  it("gets INVALID_ARGUMENT with a readable message naming the field", async () => {
    const retriever = new loaded.ragtune.retriever.v1.RetrieverService(
      stack.targets.retriever,
      grpc.credentials.createInsecure(),
    );
    const error = await call(retriever, "Search", { collection: "c", query: "", top_k: 5 }).then(
      () => assert.fail("an empty query must be rejected"),
      (e: grpc.ServiceError) => e,
    );
    assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
    // grpc-js decodes grpc-message with decodeURI, which leaves %3A and the like: the server must encode only
    // what the gRPC spec asks (bytes outside 0x20-0x7E, and %).
    assert.match(error.details, /^query: /);
    assert.doesNotMatch(error.details, /%[0-9A-F]{2}/);
    retriever.close();
  });
});
