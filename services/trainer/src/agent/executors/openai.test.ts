/**
 * The hosted executor's real HTTP client against a local fake of the OpenAI fine-tuning API.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FailureClass, JobSchema } from "@ragtune/contracts/trainer";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withSpecDefaults } from "../../spec/job-spec.js";
import type { ExecutorFailure } from "./executor.js";
import { createOpenAiExecutor, HOSTED_ADAPTER_FILE } from "./openai.js";

interface FakeState {
  uploads: string[];
  created: Record<string, unknown>[];
  polls: number;
  failWith?: { code: string; message: string };
  authorization?: string;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => resolve(body));
  });
}

function startFakeApi(state: FakeState): Promise<Server> {
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    state.authorization = req.headers.authorization;
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method === "POST" && url.pathname === "/v1/files") {
      state.uploads.push(body);
      return send(200, { id: "file-1", purpose: "fine-tune" });
    }
    if (req.method === "POST" && url.pathname === "/v1/fine_tuning/jobs") {
      const request = JSON.parse(body);
      if (!String(request.model).startsWith("gpt-")) return send(400, { error: { message: "invalid model" } });
      state.created.push(request);
      return send(200, { id: "ftjob-1", status: "validating_files" });
    }
    if (req.method === "GET" && url.pathname === "/v1/fine_tuning/jobs") {
      const wanted = url.searchParams.get("metadata[ragtune_job_id]");
      const data = state.created
        .filter((request) => (request.metadata as Record<string, string>).ragtune_job_id === wanted)
        .map((request) => ({ id: "ftjob-1", status: "running", metadata: request.metadata }));
      return send(200, { object: "list", data, has_more: false });
    }
    if (req.method === "GET" && url.pathname === "/v1/fine_tuning/jobs/ftjob-1/events") {
      const events = url.searchParams.get("after")
        ? []
        : [
            { id: "ev-2", type: "metrics", data: { step: 2, total_steps: 2, train_loss: 0.4 } },
            { id: "ev-1", type: "metrics", data: { step: 1, total_steps: 2, train_loss: 0.9 } },
          ];
      return send(200, { data: events, has_more: false });
    }
    if (req.method === "GET" && url.pathname === "/v1/fine_tuning/jobs/ftjob-1") {
      state.polls++;
      if (state.polls < 2) return send(200, { id: "ftjob-1", status: "running" });
      if (state.failWith) return send(200, { id: "ftjob-1", status: "failed", error: state.failWith });
      return send(200, {
        id: "ftjob-1",
        status: "succeeded",
        fine_tuned_model: "ft:gpt-4o-mini:ragtune:x",
        trained_tokens: 1234,
      });
    }
    send(404, { error: { message: "no route" } });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const pairs = [
  {
    id: "1",
    question: "Which river flows through Lumeria?",
    answer: "the Sable",
    answers: ["the Sable"],
    contexts: [{ text: "The Sable river flows through Lumeria.", sourceId: "d1" }],
  },
];

describe("OpenAI-style hosted fine-tuning executor", () => {
  const state: FakeState = { uploads: [], created: [], polls: 0 };
  let server: Server;
  let baseUrl: string;
  let dir: string;

  before(async () => {
    server = await startFakeApi(state);
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    dir = await mkdtemp(join(tmpdir(), "openai-exec-"));
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = (baseModel: string, progress: unknown[] = [], jobId = "hosted-1") =>
    createOpenAiExecutor({ baseUrl, apiKey: "sk-test", pollIntervalMs: 5 }).run({
      job: create(JobSchema, {
        jobId,
        spec: withSpecDefaults(create(JobSchema, { spec: { baseModel, epochs: 2, microBatchSize: 1 } }).spec),
      }),
      pairs,
      trainingDataSha256: "",
      workDir: dir,
      adapterDir: dir,
      signal: new AbortController().signal,
      onProgress: (p) => progress.push(p),
    });

  it("uploads chat JSONL, creates the job, follows metrics and records the fine-tuned model", async () => {
    const progress: { step?: bigint; loss?: number }[] = [];
    const result = await run("gpt-4o-mini-2024-07-18", progress);
    assert.equal(state.authorization, "Bearer sk-test");
    assert.match(state.uploads[0], /name="purpose"\r\n\r\nfine-tune/);
    assert.match(state.uploads[0], /Which river flows through Lumeria\?/);
    assert.match(state.uploads[0], /"role":"assistant","content":"the Sable"/);
    assert.deepEqual(state.created[0].hyperparameters, { n_epochs: 2, batch_size: 1 });
    assert.deepEqual(
      progress.map((p) => [p.step, p.loss]),
      [
        [1n, 0.9],
        [2n, 0.4],
      ],
    );
    assert.equal(result.metrics.trained_tokens, 1234);
    const adapter = JSON.parse(await readFile(join(dir, HOSTED_ADAPTER_FILE), "utf8"));
    assert.equal(adapter.fine_tuned_model, "ft:gpt-4o-mini:ragtune:x");
  });

  it("classifies a rejected request as a user error and a hosted server failure as transient", async () => {
    await assert.rejects(
      run("not-a-hosted-model", [], "hosted-2"),
      (e: ExecutorFailure) => e.failureClass === FailureClass.USER_ERROR,
    );
    state.polls = 0;
    state.failWith = { code: "server_error", message: "internal" };
    await assert.rejects(run("gpt-4o-mini", [], "hosted-3"), (e: ExecutorFailure) => {
      assert.equal(e.failureClass, FailureClass.TRANSIENT);
      assert.match(e.message, /failed: internal/);
      return true;
    });
  });
});
