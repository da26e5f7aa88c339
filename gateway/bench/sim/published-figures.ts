/**
 * The figures the protocol simulation's test backends are timed by, each with where it comes from. Every one is
 * a named constant and can be overridden by an environment variable of the same name (e.g. a tokens/s measured
 * on a lent GPU: SIM_LORA_TOKENS_PER_SECOND).
 */

export interface Figure {
  value: number;
  unit: string;
  source: string;
}

function figure(name: string, value: number, unit: string, source: string): Figure {
  const override = process.env[name];
  if (override !== undefined && Number(override) > 0)
    return { value: Number(override), unit, source: `${name}=${override} (override)` };
  return { value, unit, source };
}

export const FIGURES = {
  /**
   * LoRA (bf16, r=16) training throughput of a 7B model on one H100, tokens/s. NVIDIA NeMo's performance summary
   * (docs.nvidia.com/nemo-framework/user-guide/24.12, "Finetuning") gives 24,824 tokens/s/GPU for LLAMA2-7B LoRA
   * at FP8 with packed 4096-token sequences. Recalibrated on a lent H200 (services/trainer/README.md, "PEFT on a
   * GPU"): the runner's LoRA bf16 at 1.1B, 2048-token sequences, trained 50,825 tokens/s with gradient checkpointing
   * (its default) and 68,481 without; Llama-2-7B costs 5.97× the model FLOPs a token (4·6.61e9 + attention against
   * 4·1.04e9 + attention), so at the same utilisation 8,500 tokens/s with checkpointing.
   */
  SIM_LORA_TOKENS_PER_SECOND: figure(
    "SIM_LORA_TOKENS_PER_SECOND",
    8_500,
    "tokens/s per H100/H200",
    "measured on an H200: runner LoRA bf16 at 1.1B, 50,825 tok/s with gradient checkpointing, scaled by 7B's 5.97x FLOPs a token (NeMo 24.12 gives 24,824 FP8 packed)",
  ),
  /** QLoRA's 4-bit base weights are dequantised on every forward and backward pass: slower than LoRA. */
  SIM_QLORA_SLOWDOWN: figure(
    "SIM_QLORA_SLOWDOWN",
    1.6,
    "× LoRA's time",
    "QLoRA (Dettmers et al. 2023) and Unsloth/HF reports: 4-bit NF4 dequantisation costs ~30-60% over bf16 LoRA (assumed 1.6)",
  ),
  /** Decode at batch 1: one step reads the weights once (memory bound). */
  SIM_DECODE_TOKENS_PER_SECOND_BATCH1: figure(
    "SIM_DECODE_TOKENS_PER_SECOND_BATCH1",
    150,
    "tokens/s per sequence",
    "Llama-3.1-8B bf16 vLLM: ~75 tok/s at concurrency 1 on A100-40GB (johnmusgrave.com vLLM sweep); H100 ~2x (Lambda vLLM benchmark)",
  ),
  /** Aggregate decode throughput of a full batch. */
  SIM_DECODE_TOKENS_PER_SECOND_FULL: figure(
    "SIM_DECODE_TOKENS_PER_SECOND_FULL",
    12_500,
    "tokens/s per GPU at the batch limit",
    "Llama 3.1 8B bf16 on 1xH100 with vLLM: ~12,500 output tok/s (morphllm.com/vllm-benchmarks, 2026)",
  ),
  /** Prefill is compute bound: 2·N FLOPs per token. */
  SIM_PREFILL_TOKENS_PER_SECOND: figure(
    "SIM_PREFILL_TOKENS_PER_SECOND",
    25_000,
    "tokens/s per GPU",
    "2 x 8e9 FLOP/token at ~40% of the H100's 989 bf16 TFLOP/s (derived)",
  ),
  /** vLLM's default max_num_seqs. */
  SIM_BATCH_LIMIT: figure("SIM_BATCH_LIMIT", 256, "sequences", "vLLM engine argument max_num_seqs default 256"),
  /** Multi-LoRA kernels (punica/S-LoRA) slow a step that has adapters in it. */
  SIM_LORA_STEP_OVERHEAD: figure(
    "SIM_LORA_STEP_OVERHEAD",
    1.2,
    "× step time with adapters in the batch",
    "S-LoRA (Sheng et al. 2023) / Punica: 10-30% decode overhead of batched LoRA (assumed 1.2)",
  ),
  /** Loading an adapter from local disk into vLLM (load_lora_adapter), once per adapter. */
  SIM_ADAPTER_LOAD_SECONDS: figure(
    "SIM_ADAPTER_LOAD_SECONDS",
    2,
    "s per adapter",
    "r=16 adapter of a 7B model is ~40-80 MB read and moved to GPU (assumed 2 s)",
  ),
  /**
   * A fine-tune placed on a serving GPU time-slices it with the vLLM servers: each process in turn gets the whole
   * GPU for a slice (2, 10 or 30 ms: nvidia-smi compute-policy --set-timeslice), and each switch saves and restores
   * a context and refills caches. The share of the GPU's time left doing work while both have work is assumed.
   */
  SIM_TIME_SLICE_EFFICIENCY: figure(
    "SIM_TIME_SLICE_EFFICIENCY",
    0.9,
    "of the GPU's time doing work while two processes time-slice it",
    "assumed: 10% lost to context switches and cache refills between slices of 2-30 ms (nvidia-smi compute-policy --set-timeslice)",
  ),
  /** A hosted API call (the hosted model and the judge): time to the full answer. */
  SIM_HOSTED_CALL_SECONDS: figure(
    "SIM_HOSTED_CALL_SECONDS",
    2.5,
    "s per request",
    "hosted chat completion of ~150 output tokens: ~0.5 s to first token + ~80 tok/s (assumed)",
  ),
  /**
   * A hosted model's rate limits (the judge's and the hosted reader's, each its own pool: OpenAI limits per model).
   * Usage tier 5 (an organisation that has paid $1,000 or more; one running this protocol, ~22k judge requests a
   * run, gets there): 10,000 requests and 30,000,000 tokens a minute for the gpt-4o family (OpenAI's model pages,
   * as quoted for chatgpt-4o-latest in community.openai.com/t/1357016). Tier 4 for gpt-4o: 10,000 RPM and 800,000
   * TPM (the openai-cookbook's copy of the docs, examples/data/oai_docs/tier-four.txt). A request over the limit
   * is answered 429 and sent again later; the model queues it instead, which can only make the run shorter.
   */
  SIM_HOSTED_RPM: figure(
    "SIM_HOSTED_RPM",
    10_000,
    "requests per minute per model",
    "OpenAI gpt-4o family, usage tier 5 (model page, quoted in community.openai.com/t/1357016); tier 4 is also 10,000",
  ),
  SIM_HOSTED_TPM: figure(
    "SIM_HOSTED_TPM",
    30_000_000,
    "tokens per minute per model",
    "OpenAI gpt-4o family, usage tier 5 (same); tier 4 800,000 (openai-cookbook examples/data/oai_docs/tier-four.txt)",
  ),
  /**
   * What a request counts against the token limit, when it is sent: here its prompt plus max_tokens for every
   * choice, on the safe side (OpenAI's rate-limits guide counts the larger of max_tokens and the request's token
   * estimate). max_tokens is 256 for the judge's scoring form (services/judge FORM_MAX_TOKENS) and for answers (the
   * spec's default): a judge request with n=10 counts its prompt + 2,560.
   */
  SIM_HOSTED_MAX_TOKENS: figure(
    "SIM_HOSTED_MAX_TOKENS",
    256,
    "tokens per choice counted against TPM",
    "judge FORM_MAX_TOKENS and the spec's default max_tokens; counted as prompt + max_tokens x n when sent",
  ),
  /** Output tokens of an answer (the fake's echo is shorter than a model's answer). */
  SIM_ANSWER_TOKENS: figure(
    "SIM_ANSWER_TOKENS",
    64,
    "tokens",
    "short factoid/RAG answers under max_tokens 256 (assumed)",
  ),
} as const;

export type FigureName = keyof typeof FIGURES;

/** The figures as lines for the bench output. */
export function describeFigures(): string[] {
  return Object.entries(FIGURES).map(([name, f]) => `  ${name} = ${f.value} ${f.unit}  [${f.source}]`);
}
