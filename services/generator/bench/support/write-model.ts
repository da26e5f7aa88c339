/** Writes a random llama GGUF in its own process, so the bench's memory readings do not include the writer's buffers. */
import { writeTinyLlamaGguf } from "@ragtune/testing";

const [path, embedding, layers, feedForward] = process.argv.slice(2);
const size = await writeTinyLlamaGguf(path, {
  embedding: Number(embedding),
  layers: Number(layers),
  feedForward: Number(feedForward),
  contextLength: 2048,
});
process.stdout.write(`${size}\n`);
