/**
 * Shapes of the base models the trainer knows, so memory estimates use real layer sizes. Unknown names fall back
 * to a parameter count read from the name ("…-13b-…", "350m") and the shape of the nearest known model, scaled.
 */
export interface ModelShape {
  /** Parameters in total. */
  parameters: number;
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  vocab: number;
}

interface CatalogEntry {
  /** Matched against the lower-cased model id. */
  pattern: RegExp;
  shape: ModelShape;
}

const llama2_7b: ModelShape = {
  parameters: 6.74e9,
  layers: 32,
  hidden: 4096,
  intermediate: 11008,
  heads: 32,
  kvHeads: 32,
  vocab: 32000,
};
const llama2_13b: ModelShape = {
  parameters: 13.0e9,
  layers: 40,
  hidden: 5120,
  intermediate: 13824,
  heads: 40,
  kvHeads: 40,
  vocab: 32000,
};
const llama2_70b: ModelShape = {
  parameters: 68.98e9,
  layers: 80,
  hidden: 8192,
  intermediate: 28672,
  heads: 64,
  kvHeads: 8,
  vocab: 32000,
};
const mistral7b: ModelShape = {
  parameters: 7.24e9,
  layers: 32,
  hidden: 4096,
  intermediate: 14336,
  heads: 32,
  kvHeads: 8,
  vocab: 32000,
};
const llama3_8b: ModelShape = {
  parameters: 8.03e9,
  layers: 32,
  hidden: 4096,
  intermediate: 14336,
  heads: 32,
  kvHeads: 8,
  vocab: 128256,
};
const tinyllama: ModelShape = {
  parameters: 1.1e9,
  layers: 22,
  hidden: 2048,
  intermediate: 5632,
  heads: 32,
  kvHeads: 4,
  vocab: 32000,
};
/** The random-initialised ~1B llama of the PEFT runner's --bench-mfu mode. */
const llama1b: ModelShape = {
  parameters: 1.1e9,
  layers: 16,
  hidden: 2048,
  intermediate: 8192,
  heads: 32,
  kvHeads: 8,
  vocab: 32000,
};

const catalog: CatalogEntry[] = [
  { pattern: /mixtral/, shape: { ...mistral7b, parameters: 46.7e9 } },
  { pattern: /mistral.*7b|zephyr-7b/, shape: mistral7b },
  { pattern: /llama-?3(\.\d)?-8b/, shape: llama3_8b },
  { pattern: /llama-?2-?70b/, shape: llama2_70b },
  { pattern: /llama-?2-?13b/, shape: llama2_13b },
  { pattern: /llama-?2-?7b/, shape: llama2_7b },
  { pattern: /tinyllama/, shape: tinyllama },
  { pattern: /llama-1b|random-llama-1b/, shape: llama1b },
];

/** Reads "7b", "13B", "1.1b", "350m" out of a model id; undefined when there is none. */
export function parseParameterCount(modelId: string): number | undefined {
  const match = /(?:^|[^a-z0-9.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])/i.exec(modelId);
  if (!match) return undefined;
  const value = Number(match[1]);
  return value * (match[2].toLowerCase() === "b" ? 1e9 : 1e6);
}

/** Scales a known shape to another parameter count (≈ 12·layers·hidden², so hidden grows with √params). */
function scaleShape(base: ModelShape, parameters: number): ModelShape {
  const ratio = Math.sqrt(parameters / base.parameters);
  const round = (x: number) => Math.max(64, Math.round(x / 64) * 64);
  return {
    ...base,
    parameters,
    hidden: round(base.hidden * ratio),
    intermediate: round(base.intermediate * ratio),
  };
}

const byParameters = [tinyllama, llama1b, llama2_7b, mistral7b, llama2_13b, llama2_70b];

/** Shape of a model by id; undefined when neither the catalog nor the name tells its size. */
export function lookupModelShape(modelId: string): ModelShape | undefined {
  const id = modelId.toLowerCase();
  const known = catalog.find((entry) => entry.pattern.test(id));
  if (known) return known.shape;
  const parameters = parseParameterCount(id);
  if (parameters === undefined) return undefined;
  const nearest = byParameters.reduce((best, shape) =>
    Math.abs(Math.log(shape.parameters / parameters)) < Math.abs(Math.log(best.parameters / parameters)) ? shape : best,
  );
  return nearest.parameters === parameters ? nearest : scaleShape(nearest, parameters);
}
