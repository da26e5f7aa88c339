import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Writes tiny random-weight GGUF files (format v3) that llama.cpp loads: a llama model and a LoRA
 * adapter for it. No model hub is reachable in tests, so the project makes its own.
 * Layout: header, metadata key/values, tensor infos, padding to the alignment, tensor data (f32).
 */

const ALIGNMENT = 32;
enum GgufType {
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  STRING = 8,
  ARRAY = 9,
}
const GGML_TYPE_F32 = 0;

type MetaValue =
  | { type: "u32"; value: number }
  | { type: "f32"; value: number }
  | { type: "string"; value: string }
  | { type: "strings"; value: string[] }
  | { type: "f32s"; value: number[] }
  | { type: "i32s"; value: number[] };

interface Tensor {
  name: string;
  /** ggml order: dims[0] is the fastest-varying (a row's length). */
  dims: number[];
  data: Float32Array;
}

class ByteWriter {
  private chunks: Buffer[] = [];
  length = 0;
  private push(buffer: Buffer) {
    this.chunks.push(buffer);
    this.length += buffer.length;
  }
  u32(value: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    this.push(b);
  }
  i32(value: number) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value);
    this.push(b);
  }
  u64(value: number) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(value));
    this.push(b);
  }
  f32(value: number) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    this.push(b);
  }
  string(value: string) {
    const bytes = Buffer.from(value, "utf8");
    this.u64(bytes.length);
    this.push(bytes);
  }
  bytes(buffer: Buffer) {
    this.push(buffer);
  }
  pad() {
    const rest = this.length % ALIGNMENT;
    if (rest) this.push(Buffer.alloc(ALIGNMENT - rest));
  }
  toBuffer() {
    return Buffer.concat(this.chunks);
  }
}

function writeMeta(w: ByteWriter, key: string, meta: MetaValue) {
  w.string(key);
  switch (meta.type) {
    case "u32":
      w.u32(GgufType.UINT32);
      w.u32(meta.value);
      break;
    case "f32":
      w.u32(GgufType.FLOAT32);
      w.f32(meta.value);
      break;
    case "string":
      w.u32(GgufType.STRING);
      w.string(meta.value);
      break;
    case "strings":
      writeArray(w, GgufType.STRING, meta.value, (s) => w.string(s));
      break;
    case "f32s":
      writeArray(w, GgufType.FLOAT32, meta.value, (v) => w.f32(v));
      break;
    case "i32s":
      writeArray(w, GgufType.INT32, meta.value, (v) => w.i32(v));
      break;
  }
}

/** An array value: its element type and count, then the elements. */
function writeArray<T>(w: ByteWriter, elementType: GgufType, values: readonly T[], writeElement: (value: T) => void) {
  w.u32(GgufType.ARRAY);
  w.u32(elementType);
  w.u64(values.length);
  for (const value of values) writeElement(value);
}

function encodeGguf(metadata: Record<string, MetaValue>, tensors: Tensor[]): Buffer {
  const w = new ByteWriter();
  w.u32(0x46554747); // "GGUF" little-endian
  w.u32(3);
  w.u64(tensors.length);
  w.u64(Object.keys(metadata).length);
  for (const [key, value] of Object.entries(metadata)) writeMeta(w, key, value);
  let offset = 0;
  for (const tensor of tensors) {
    w.string(tensor.name);
    w.u32(tensor.dims.length);
    for (const d of tensor.dims) w.u64(d);
    w.u32(GGML_TYPE_F32);
    w.u64(offset);
    offset += Math.ceil(tensor.data.byteLength / ALIGNMENT) * ALIGNMENT;
  }
  w.pad();
  for (const tensor of tensors) {
    w.bytes(Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
    w.pad();
  }
  return w.toBuffer();
}

/** Seeded normal-ish values (sum of uniforms), so every run writes the same file. */
function createRandomWeights(seed: number) {
  let state = seed >>> 0 || 1;
  const uniform = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
  return (count: number, scale: number) =>
    Float32Array.from({ length: count }, () => (uniform() + uniform() + uniform() - 1.5) * 2 * scale);
}

export interface TinyLlamaShape {
  /** Embedding width. Default 64. */
  embedding: number;
  /** Transformer blocks. Default 2. */
  layers: number;
  /** Attention heads. Default 4. */
  heads: number;
  /** Feed-forward width. Default 2 × embedding. */
  feedForward: number;
  /** Context length written into the metadata, unit {token}. Default 512. */
  contextLength: number;
}

/** A few whole words besides the byte tokens, so ordinary text does not tokenize into single bytes only. */
const WORDS = [
  "▁the",
  "▁a",
  "▁of",
  "▁is",
  "▁answer",
  "▁question",
  "▁context",
  "▁yes",
  "▁no",
  "▁Answer",
  ":",
  "{",
  "}",
  '"',
];

export function tinyLlamaVocabulary(): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ["<unk>", "<s>", "</s>"];
  const types = [2, 3, 3]; // unknown, control, control
  for (let byte = 0; byte < 256; byte++) {
    tokens.push(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(6); // byte
  }
  // SPM merges two adjacent pieces only when the joined piece is in the vocabulary, so every prefix
  // of a word must be a token for the word itself to be reachable.
  const pieces = new Set<string>();
  for (const word of WORDS) {
    const chars = [...word];
    for (let end = 1; end <= chars.length; end++) pieces.add(chars.slice(0, end).join(""));
  }
  for (const piece of pieces) {
    tokens.push(piece);
    types.push(1); // normal
  }
  // Longer pieces score higher, so merges build whole words first; bytes are the fallback.
  const scores = tokens.map((token, i) => (types[i] === 1 ? [...token].length : 0));
  return { tokens, scores, types };
}

function llamaMetadata(architectureName: string, shape: TinyLlamaShape): Record<string, MetaValue> {
  const vocab = tinyLlamaVocabulary();
  return {
    "general.architecture": { type: "string", value: "llama" },
    "general.name": { type: "string", value: architectureName },
    "general.alignment": { type: "u32", value: ALIGNMENT },
    "general.file_type": { type: "u32", value: 0 },
    "llama.context_length": { type: "u32", value: shape.contextLength },
    "llama.embedding_length": { type: "u32", value: shape.embedding },
    "llama.block_count": { type: "u32", value: shape.layers },
    "llama.feed_forward_length": { type: "u32", value: shape.feedForward },
    "llama.attention.head_count": { type: "u32", value: shape.heads },
    "llama.attention.head_count_kv": { type: "u32", value: shape.heads },
    "llama.rope.dimension_count": { type: "u32", value: shape.embedding / shape.heads },
    "llama.attention.layer_norm_rms_epsilon": { type: "f32", value: 1e-5 },
    "tokenizer.ggml.model": { type: "string", value: "llama" },
    "tokenizer.ggml.tokens": { type: "strings", value: vocab.tokens },
    "tokenizer.ggml.scores": { type: "f32s", value: vocab.scores },
    "tokenizer.ggml.token_type": { type: "i32s", value: vocab.types },
    "tokenizer.ggml.unknown_token_id": { type: "u32", value: 0 },
    "tokenizer.ggml.bos_token_id": { type: "u32", value: 1 },
    "tokenizer.ggml.eos_token_id": { type: "u32", value: 2 },
  };
}

function resolveShape(shape: Partial<TinyLlamaShape>): TinyLlamaShape {
  const embedding = shape.embedding ?? 64;
  return {
    embedding,
    layers: shape.layers ?? 2,
    heads: shape.heads ?? 4,
    feedForward: shape.feedForward ?? embedding * 2,
    contextLength: shape.contextLength ?? 512,
  };
}

/** Writes a random-weight llama GGUF; returns its size, unit By. */
export async function writeTinyLlamaGguf(path: string, options: Partial<TinyLlamaShape> & { seed?: number } = {}) {
  const shape = resolveShape(options);
  const random = createRandomWeights(options.seed ?? 42);
  const vocabSize = tinyLlamaVocabulary().tokens.length;
  const e = shape.embedding;
  const ones = (n: number) => new Float32Array(n).fill(1);
  const tensors: Tensor[] = [
    { name: "token_embd.weight", dims: [e, vocabSize], data: random(e * vocabSize, 1) },
    { name: "output_norm.weight", dims: [e], data: ones(e) },
    { name: "output.weight", dims: [e, vocabSize], data: random(e * vocabSize, 0.5) },
  ];
  const scale = 1 / Math.sqrt(e);
  for (let layer = 0; layer < shape.layers; layer++) {
    const blk = `blk.${layer}`;
    tensors.push(
      { name: `${blk}.attn_norm.weight`, dims: [e], data: ones(e) },
      { name: `${blk}.attn_q.weight`, dims: [e, e], data: random(e * e, scale) },
      { name: `${blk}.attn_k.weight`, dims: [e, e], data: random(e * e, scale) },
      { name: `${blk}.attn_v.weight`, dims: [e, e], data: random(e * e, scale) },
      { name: `${blk}.attn_output.weight`, dims: [e, e], data: random(e * e, scale) },
      { name: `${blk}.ffn_norm.weight`, dims: [e], data: ones(e) },
      { name: `${blk}.ffn_gate.weight`, dims: [e, shape.feedForward], data: random(e * shape.feedForward, scale) },
      { name: `${blk}.ffn_up.weight`, dims: [e, shape.feedForward], data: random(e * shape.feedForward, scale) },
      { name: `${blk}.ffn_down.weight`, dims: [shape.feedForward, e], data: random(shape.feedForward * e, scale) },
    );
  }
  const buffer = encodeGguf(llamaMetadata("ragtune-tiny-llama", shape), tensors);
  await writeFile(path, buffer);
  return buffer.length;
}

/**
 * Writes a LoRA adapter GGUF for the tiny llama (llama.cpp's convert_lora_to_gguf layout): for each
 * target W (out × in), lora_a is [in, rank] and lora_b is [rank, out] in ggml order; scale alpha/rank.
 * Large random A and B, so the adapted model's greedy output visibly differs from the base model's.
 */
export async function writeTinyLoraGguf(
  path: string,
  options: Partial<TinyLlamaShape> & { seed?: number; rank?: number; alpha?: number; targets?: string[] } = {},
) {
  const shape = resolveShape(options);
  const rank = options.rank ?? 4;
  const random = createRandomWeights(options.seed ?? 7);
  const e = shape.embedding;
  const tensors: Tensor[] = [];
  for (let layer = 0; layer < shape.layers; layer++) {
    for (const target of options.targets ?? ["attn_q", "attn_v", "ffn_up"]) {
      const out = target === "ffn_up" || target === "ffn_gate" ? shape.feedForward : e;
      const input = target === "ffn_down" ? shape.feedForward : e;
      const name = `blk.${layer}.${target}.weight`;
      tensors.push(
        { name: `${name}.lora_a`, dims: [input, rank], data: random(input * rank, 1) },
        { name: `${name}.lora_b`, dims: [rank, out], data: random(rank * out, 1) },
      );
    }
  }
  const vocabSize = tinyLlamaVocabulary().tokens.length;
  tensors.push(
    { name: "output.weight.lora_a", dims: [e, rank], data: random(e * rank, 1) },
    { name: "output.weight.lora_b", dims: [rank, vocabSize], data: random(rank * vocabSize, 1) },
  );
  const metadata: Record<string, MetaValue> = {
    "general.architecture": { type: "string", value: "llama" },
    "general.type": { type: "string", value: "adapter" },
    "general.name": { type: "string", value: "ragtune-tiny-lora" },
    "general.alignment": { type: "u32", value: ALIGNMENT },
    "adapter.type": { type: "string", value: "lora" },
    "adapter.lora.alpha": { type: "f32", value: options.alpha ?? rank * 2 },
  };
  const buffer = encodeGguf(metadata, tensors);
  await writeFile(path, buffer);
  return buffer.length;
}

export interface TinyModelDir {
  /** The temporary folder; the adapters lie in it as `<name>.gguf`, so it serves as an adapter folder too. */
  dir: string;
  /** Path of the tiny llama model, `<dir>/tiny.gguf`. */
  model: string;
  /** Deletes the folder and everything in it. */
  remove(): Promise<void>;
}

/** A fresh temporary folder holding the tiny llama model and a LoRA adapter for it per name in `adapters`. */
export async function writeTinyModelDir(
  options: { prefix?: string; adapters?: readonly string[] } = {},
): Promise<TinyModelDir> {
  const dir = await mkdtemp(join(tmpdir(), options.prefix ?? "ragtune-tiny-gguf-"));
  const model = join(dir, "tiny.gguf");
  await writeTinyLlamaGguf(model);
  for (const adapter of options.adapters ?? []) await writeTinyLoraGguf(join(dir, `${adapter}.gguf`));
  return { dir, model, remove: () => rm(dir, { recursive: true, force: true }) };
}
