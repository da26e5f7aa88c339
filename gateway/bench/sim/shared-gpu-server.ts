/**
 * The serving GPUs' other tenant over HTTP: a node agent placed on a serving GPU runs its PEFT test stand-in
 * with AGENT_PEFT_TEST_STAND_IN_GPU_URL set to `urlOf(i)`, and POSTs each piece of training there as
 * {"seconds": s}, s being real seconds of work at the stand-in's (sped-up) pace on a GPU of its own. The answer
 * comes when the modelled GPU (`VllmEngineModel.train`) has done it beside its vLLM servers' steps. A request
 * closed before its answer (a cancelled job) drops its work.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { VllmEngineModel } from "./vllm-engine-model.js";

export interface SharedGpuServer {
  /** The URL the stand-in on serving GPU `i` sends its training to. */
  urlOf(i: number): string;
  close(): Promise<void>;
}

export async function startSharedGpuServer(gpus: VllmEngineModel[], timeFactor: number): Promise<SharedGpuServer> {
  const server = createServer(async (req, res) => {
    const match = /^\/gpus\/(\d+)\/train$/.exec(req.url ?? "");
    const gpu = match ? gpus[Number(match[1])] : undefined;
    if (!gpu || req.method !== "POST") {
      res.writeHead(404).end();
      return;
    }
    let body = "";
    for await (const chunk of req) body += chunk;
    let seconds = Number.NaN;
    try {
      seconds = Number((JSON.parse(body) as { seconds?: unknown }).seconds);
    } catch {}
    if (!(seconds >= 0)) {
      res.writeHead(400).end("seconds must be a number >= 0");
      return;
    }
    const gone = new AbortController();
    res.on("close", () => res.writableFinished || gone.abort());
    await gpu.train(seconds * timeFactor, gone.signal);
    if (!gone.signal.aborted) res.writeHead(204).end();
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const { port } = server.address() as AddressInfo;
  return {
    urlOf: (i) => `http://127.0.0.1:${port}/gpus/${i}/train`,
    close: () =>
      new Promise<void>((closed) => {
        server.close(() => closed());
        server.closeAllConnections();
      }),
  };
}
