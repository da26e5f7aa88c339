// Child process that downloads one model file with node-llama-cpp's resolver and reports over IPC.
// It runs apart from the service so that a download stuck against an unreachable host (whose
// promise never settles) can be killed instead of lingering in the service process.
import { resolveModelFile } from "node-llama-cpp";

const [uri, directory] = process.argv.slice(2);
try {
  const path = await resolveModelFile(uri, {
    directory: directory || undefined,
    cli: false,
    onProgress: ({ totalSize, downloadedSize }) => process.send?.({ type: "progress", totalSize, downloadedSize }),
  });
  process.send?.({ type: "done", path }, () => process.exit(0));
} catch (error) {
  process.send?.({ type: "error", message: error instanceof Error ? error.message : String(error) }, () =>
    process.exit(1),
  );
}
