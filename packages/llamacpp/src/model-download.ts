import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const WORKER = fileURLToPath(new URL("./model-download-worker.mjs", import.meta.url));

export interface ModelDownloadOptions {
  /** Where files go; default node-llama-cpp's models directory. */
  directory?: string;
  /** Fails when no progress is reported for this long, ms. */
  stallMs: number;
  signal?: AbortSignal;
  onProgress?: (progress: { totalSize: number; downloadedSize: number }) => void;
}

/**
 * Resolves a model URI ("hf:user/repo:quant", "https://…/model.gguf") to a local file, downloading it
 * if needed, in a child process that is killed when the download stalls or the caller aborts.
 */
export function downloadModelFile(uri: string, options: ModelDownloadOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, [uri, options.directory ?? ""], { stdio: ["ignore", "ignore", "pipe", "ipc"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-2000);
    });
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (error: Error | undefined, path?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      if (child.exitCode === null) child.kill("SIGKILL");
      if (error) reject(error);
      else resolve(path as string);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new Error(`no download progress for ${options.stallMs} ms`)), options.stallMs);
    };
    const onAbort = () => finish(new Error("download cancelled"));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    arm();
    child.on(
      "message",
      (message: { type: string; path?: string; message?: string; totalSize?: number; downloadedSize?: number }) => {
        if (message.type === "progress") {
          arm();
          options.onProgress?.({ totalSize: message.totalSize ?? 0, downloadedSize: message.downloadedSize ?? 0 });
        } else if (message.type === "done") finish(undefined, message.path);
        else if (message.type === "error") finish(new Error(message.message));
      },
    );
    child.on("error", (error) => finish(error));
    child.on("exit", (code) => finish(new Error(`download process exited with code ${code}: ${stderr.trim()}`)));
  });
}
