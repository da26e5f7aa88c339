#!/usr/bin/env python3
"""LoRA / QLoRA fine-tuning runner of the ragtune trainer's PEFT executor.

Reads JSONL of {"id", "messages", "completion"}: the chat messages the generator sends to /chat/completions for
the item (rendered and fitted by the agent with @ragtune/prompt) and the answer. Each example is what serving feeds
the model: the tokenizer's chat template applied to the messages with the generation prompt, then the answer
tokens and EOS, the loss on those only. Trains a LoRA adapter on a Hugging Face causal LM (QLoRA: 4-bit NF4 base
through bitsandbytes) and writes a standard PEFT adapter directory (adapter_config.json +
adapter_model.safetensors).

stdout carries one JSON object per line, for the agent:
  {"event": "start", ...}  {"event": "progress", "step", "total_steps", "epoch", "loss", "learning_rate",
  "tokens_per_second"}  {"event": "done", "metrics": {...}}  {"event": "error", "class", "message"}
Exit status: 0 done, 3 out of GPU memory, 4 user error (bad arguments or data), 1 anything else.

Modes:
  --check       validate arguments and data, print a summary; needs no torch (CI runs this)
  --smoke       train a tiny random-initialised llama for a few steps (any machine with torch+transformers+peft)
  --bench-mfu   bf16 LoRA on a random-initialised ~1B llama: tokens/s and MFU against a measured bf16 matmul peak
  --count-tokens  serve token counts to the agent, which fits prompts with the exact tokenizer: one JSON object a
                line on stdin, {"messages": [...]} (chat template with the generation prompt) or {"text": "..."}
                (no special tokens), each answered by {"tokens": n} or {"error": "..."} on stdout
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time

EXIT_OOM = 3
EXIT_USER_ERROR = 4


def emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


class UserError(Exception):
    """Bad arguments or data: the job fails without retry."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="JSONL of {id, messages, completion}")
    p.add_argument("--output", help="directory for the PEFT adapter")
    p.add_argument("--base-model", default="", help="Hugging Face id or local path")
    p.add_argument("--tokenizer", default="", help="tokenizer id or local path; default: the base model's")
    p.add_argument("--method", choices=["lora", "qlora"], default="lora")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--micro-batch-size", type=int, default=4)
    p.add_argument("--gradient-accumulation-steps", type=int, default=1)
    p.add_argument("--learning-rate", type=float, default=2e-4)
    p.add_argument("--lr-schedule", choices=["constant", "linear", "cosine"], default="linear")
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--lora-rank", type=int, default=16)
    p.add_argument("--lora-alpha", type=float, default=32)
    p.add_argument("--lora-dropout", type=float, default=0.05)
    p.add_argument("--target-modules", default="q_proj,v_proj", help="comma separated, or all-linear")
    p.add_argument("--max-seq-length", type=int, default=2048)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--check", action="store_true", help="validate arguments and data only")
    p.add_argument("--smoke", action="store_true", help="tiny random llama, a few steps")
    p.add_argument("--bench-mfu", action="store_true", help="throughput and MFU on a random ~1B llama")
    p.add_argument("--count-tokens", action="store_true", help="answer token-count requests on stdin")
    p.add_argument("--bench-steps", type=int, default=20)
    p.add_argument("--bench-seq-length", type=int, default=2048)
    p.add_argument("--bench-micro-batch-size", type=int, default=8)
    p.add_argument("--bench-compile", action="store_true", help="torch.compile the model in --bench-mfu")
    args = p.parse_args(argv)
    validate_args(args)
    return args


def validate_args(args: argparse.Namespace) -> None:
    checks = [
        ("epochs", 1 <= args.epochs <= 100, "must be 1..100"),
        ("micro_batch_size", args.micro_batch_size >= 1, "must be >= 1"),
        ("gradient_accumulation_steps", args.gradient_accumulation_steps >= 1, "must be >= 1"),
        ("learning_rate", 0 < args.learning_rate <= 1, "must be in (0, 1]"),
        ("lora_rank", args.lora_rank >= 1, "must be >= 1"),
        ("lora_alpha", args.lora_alpha > 0, "must be > 0"),
        ("lora_dropout", 0 <= args.lora_dropout < 1, "must be in [0, 1)"),
        ("max_seq_length", args.max_seq_length >= 16, "must be >= 16"),
        ("warmup_steps", args.warmup_steps >= 0, "must be >= 0"),
    ]
    for name, ok, reason in checks:
        if not ok:
            raise UserError(f"{name}: {reason}")
    if args.count_tokens:
        if not (args.tokenizer or args.base_model):
            raise UserError("base_model: is required")
    elif not (args.smoke or args.bench_mfu):
        if not args.data:
            raise UserError("data: is required")
        if not args.check and not args.output:
            raise UserError("output: is required")
        if not args.check and not args.base_model:
            raise UserError("base_model: is required")


def target_modules(spec: str) -> list[str] | str:
    names = [m.strip() for m in spec.split(",") if m.strip()]
    if names == ["all-linear"]:
        return "all-linear"
    if not names:
        raise UserError("target_modules: is empty")
    return names


def read_examples(path: str) -> list[dict]:
    examples = []
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise UserError(f"data line {number}: not JSON ({e.msg})") from e
                messages = record.get("messages")
                if not isinstance(record.get("completion"), str) or not valid_messages(messages):
                    raise UserError(f"data line {number}: needs messages (a list of {{role, content}} strings) and a "
                                    "string completion")
                examples.append({"id": str(record.get("id") or f"line {number}"), "messages": messages,
                                 "completion": record["completion"]})
    except FileNotFoundError as e:
        raise UserError(f"data: no such file {path}") from e
    if not examples:
        raise UserError("data: no examples")
    return examples


def valid_messages(messages) -> bool:
    return isinstance(messages, list) and len(messages) > 0 and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in messages)


def chat_prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    """The ids serving feeds the model for these messages: an OpenAI-compatible server (vLLM, TGI, llama.cpp)
    renders the model's chat template with the generation prompt and tokenises it without adding special tokens
    again (the template writes BOS itself)."""
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if hasattr(ids, "keys"):  # transformers versions that return a BatchEncoding
        ids = ids["input_ids"]
    return list(ids)


def text_ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_example(prompt_ids: list[int], completion_ids: list[int], eos_id: int | None, max_len: int,
                   example_id: str = "example"):
    """Token ids and labels of one example: the loss covers the answer and EOS only. The agent fits prompts to
    max_seq_length with the serving truncation rule; an example still over it is refused rather than cut here,
    where cutting would drop the instructions at the start of the prompt."""
    completion = completion_ids + ([eos_id] if eos_id is not None else [])
    input_ids = prompt_ids + completion
    if len(input_ids) > max_len:
        raise UserError(f"data: {example_id} has {len(input_ids)} tokens ({len(prompt_ids)} prompt, "
                        f"{len(completion)} answer and EOS), over max_seq_length {max_len}")
    labels = [-100] * len(prompt_ids) + completion
    return input_ids, labels


def build_example(tokenizer, example: dict, max_len: int):
    """One training example from a data line, tokenised as serving tokenises its request."""
    return encode_example(chat_prompt_ids(tokenizer, example["messages"]), text_ids(tokenizer, example["completion"]),
                          tokenizer.eos_token_id, max_len, example.get("id", "example"))


def load_chat_tokenizer(name: str):
    import transformers
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(name)
    except OSError as e:
        raise UserError(f"base_model: cannot load tokenizer of {name}: {e}") from e
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(f"base_model: the tokenizer of {name} has no chat template, so /chat/completions cannot "
                        "serve it and there is no chat format to fine-tune on")
    return tokenizer


def serve_token_counts(tokenizer, lines, out) -> None:
    for line in lines:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if "messages" in request:
                if not valid_messages(request["messages"]):
                    raise ValueError("messages must be a list of {role, content} strings")
                answer = {"tokens": len(chat_prompt_ids(tokenizer, request["messages"]))}
            elif isinstance(request.get("text"), str):
                answer = {"tokens": len(text_ids(tokenizer, request["text"]))}
            else:
                raise ValueError("needs messages or text")
        except Exception as e:  # noqa: BLE001 - one bad request must not end the session
            answer = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


def total_optimizer_steps(n_examples: int, micro_batch: int, accumulation: int, epochs: int) -> int:
    batches_per_epoch = math.ceil(n_examples / micro_batch)
    return max(1, math.ceil(batches_per_epoch / accumulation)) * epochs


class ByteTokenizer:
    """Bytes as tokens (offset 3 past pad/bos/eos) for --check and the random-initialised models of --smoke and
    --bench-mfu, where no tokenizer can be downloaded. Its chat template is ChatML-like, written in Python."""

    pad_token_id, bos_token_id, eos_token_id = 0, 1, 2
    vocab_size = 259
    chat_template = "byte-chatml"

    def encode(self, text: str) -> list[int]:
        return [b + 3 for b in text.encode("utf-8")]

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict:
        return {"input_ids": ([self.bos_token_id] if add_special_tokens else []) + self.encode(text)}

    def apply_chat_template(self, messages, add_generation_prompt=False, tokenize=True):
        text = "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages)
        text += "<|assistant|>\n" if add_generation_prompt else ""
        return [self.bos_token_id] + self.encode(text) if tokenize else text


def check_mode(args) -> dict:
    examples = read_examples(args.data)
    tok = ByteTokenizer()
    lengths = []
    for ex in examples:
        if not ex["completion"].strip():
            raise UserError(f"data: {ex['id']} has an empty completion")
        # Bytes over-count a real vocabulary's tokens: no length limit here, only the longest example reported.
        ids, _ = encode_example(chat_prompt_ids(tok, ex["messages"]), text_ids(tok, ex["completion"]),
                                tok.eos_token_id, sys.maxsize, ex["id"])
        lengths.append(len(ids))
    return {
        "examples": len(examples),
        "total_steps": total_optimizer_steps(len(examples), args.micro_batch_size, args.gradient_accumulation_steps,
                                             args.epochs),
        "effective_batch_size": args.micro_batch_size * args.gradient_accumulation_steps,
        "max_byte_tokens": max(lengths),
        "target_modules": target_modules(args.target_modules),
        "method": args.method,
    }


def is_oom(error: BaseException) -> bool:
    text = f"{type(error).__name__}: {error}"
    return "OutOfMemoryError" in text or "CUDA out of memory" in text or "CUBLAS_STATUS_ALLOC_FAILED" in text


def tiny_llama_config(transformers, vocab_size: int, *, hidden=64, layers=2, heads=4, kv_heads=2, inter=128):
    return transformers.LlamaConfig(
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=4096,
        pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )


def train(args) -> dict:
    import torch
    import transformers
    from peft import LoraConfig, get_peft_model

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32

    if args.smoke:
        tokenizer = ByteTokenizer()
        model = transformers.LlamaForCausalLM(tiny_llama_config(transformers, tokenizer.vocab_size)).to(device, dtype)
        examples = read_examples(args.data) if args.data else [
            {"id": f"smoke-{i}", "messages": [{"role": "user", "content": f"What is {i} plus one?"}],
             "completion": str(i + 1)} for i in range(16)
        ]
    else:
        examples = read_examples(args.data)
        tokenizer = load_chat_tokenizer(args.tokenizer or args.base_model)
        kwargs = {"torch_dtype": dtype}
        if args.method == "qlora":
            try:
                import bitsandbytes  # noqa: F401
            except ImportError as e:
                raise UserError("method qlora needs bitsandbytes, which is not installed on this node") from e
            kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=dtype,
            )
            kwargs["device_map"] = {"": 0}
        try:
            model = transformers.AutoModelForCausalLM.from_pretrained(args.base_model, **kwargs)
        except OSError as e:
            raise UserError(f"base_model: cannot load {args.base_model}: {e}") from e
        if args.method == "qlora":
            from peft import prepare_model_for_kbit_training
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=args.gradient_checkpointing)
        else:
            model.to(device)

    if args.gradient_checkpointing and not args.smoke:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    lora = LoraConfig(r=args.lora_rank, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                      target_modules=target_modules(args.target_modules), task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)

    eos = tokenizer.eos_token_id
    encoded = [build_example(tokenizer, ex, args.max_seq_length) for ex in examples]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.learning_rate)
    total_steps = total_optimizer_steps(len(encoded), args.micro_batch_size, args.gradient_accumulation_steps,
                                        args.epochs)
    if args.smoke:
        total_steps = min(total_steps, 5)
    schedule = {"constant": "constant_with_warmup", "linear": "linear", "cosine": "cosine"}[args.lr_schedule]
    lr_scheduler = transformers.get_scheduler(schedule, optimizer, num_warmup_steps=args.warmup_steps,
                                              num_training_steps=total_steps)
    emit("start", examples=len(encoded), total_steps=total_steps, trainable_parameters=trainable,
         device=str(device), dtype=str(dtype).replace("torch.", ""))

    model.train()
    lengths: list[int] = []  # of every sequence trained on, for the model FLOPs
    step, micro, tokens, started = 0, 0, 0, time.perf_counter()
    last_loss = float("nan")
    rng = random.Random(args.seed)
    for epoch in range(args.epochs):
        order = list(range(len(encoded)))
        rng.shuffle(order)
        for start in range(0, len(order), args.micro_batch_size):
            batch = [encoded[i] for i in order[start:start + args.micro_batch_size]]
            width = max(len(ids) for ids, _ in batch)
            pad = eos if eos is not None else 0
            input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in batch], device=device)
            labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch], device=device)
            attention = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in batch], device=device)
            out = model(input_ids=input_ids, attention_mask=attention, labels=labels)
            (out.loss / args.gradient_accumulation_steps).backward()
            tokens += int(attention.sum())
            lengths.extend(len(ids) for ids, _ in batch)
            micro += 1
            last_loss = float(out.loss.detach())
            if micro % args.gradient_accumulation_steps == 0:
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                elapsed = time.perf_counter() - started
                emit("progress", step=step, total_steps=total_steps,
                     epoch=epoch + (start + len(batch)) / len(order), loss=last_loss,
                     learning_rate=lr_scheduler.get_last_lr()[0], tokens_per_second=tokens / max(elapsed, 1e-9),
                     eta_seconds=elapsed / step * (total_steps - step))
                if step >= total_steps:
                    break
        if step >= total_steps:
            break
    if cuda:
        torch.cuda.synchronize()
    runtime = time.perf_counter() - started
    if args.output:
        model.save_pretrained(args.output)
    metrics = {"train_loss": last_loss, "train_runtime_seconds": runtime, "train_steps": step,
               "train_tokens_per_second": tokens / max(runtime, 1e-9), "trainable_parameters": trainable}
    if cuda:  # padding and gradient checkpointing's recomputation are work the FLOP count does not credit
        flops = lora_train_flops(model.config, matmul_parameters(model), lengths)
        metrics.update(utilisation(torch, flops, runtime, None))
        metrics["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2 ** 30
    return metrics


# Dense bf16 peak of the data sheets (no sparsity), for MFU on the usual convention; the measured matmul peak is
# reported beside it.
DATASHEET_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.0}


def datasheet_peak_tflops(gpu_name: str) -> float | None:
    return next((v for k, v in DATASHEET_BF16_TFLOPS.items() if k in gpu_name), None)


def matmul_parameters(model) -> int:
    """Parameters that take part in matrix products: all but the input embedding (a lookup, no FLOPs)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    embedding = base.get_input_embeddings().weight.numel()
    return sum(p.numel() for p in base.parameters()) - embedding


def lora_train_flops(config, matmul_params: int, sequence_lengths: list[int]) -> float:
    """Model FLOPs of LoRA training on a frozen base for these sequences: forward 2N and activation gradients 2N a
    token (frozen weights get no weight gradient), plus attention scores and values, 4·layers·len·hidden a token
    forward and twice that backward. The adapters' own FLOPs (rank ≪ hidden) are left out, as MFU conventions do."""
    layers, hidden = config.num_hidden_layers, config.hidden_size
    tokens = sum(sequence_lengths)
    attention = sum(12 * layers * hidden * n * n for n in sequence_lengths)
    return 4 * matmul_params * tokens + attention


def utilisation(torch, flops: float, seconds: float, measured_peak: float | None) -> dict:
    """Achieved model TFLOP/s and MFU against the data-sheet peak and against the measured matmul peak."""
    achieved = flops / seconds / 1e12
    gpu = torch.cuda.get_device_name(0)
    sheet = datasheet_peak_tflops(gpu)
    result = {"gpu": gpu, "model_tflops": achieved, "datasheet_bf16_tflops": sheet,
              "mfu": achieved / sheet if sheet else None}
    if measured_peak:
        result["measured_bf16_peak_tflops"] = measured_peak
        result["mfu_vs_measured_peak"] = achieved / measured_peak
    return result


def measure_bf16_peak_tflops(torch, size=8192, repeats=50) -> float:
    a = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    for _ in range(5):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize()
    return 2 * size ** 3 * repeats / (time.perf_counter() - start) / 1e12


def bench_mfu(args) -> dict:
    import torch
    import transformers
    from peft import LoraConfig, get_peft_model

    if not torch.cuda.is_available():
        raise UserError("--bench-mfu needs a CUDA GPU")
    torch.manual_seed(args.seed)
    peak = measure_bf16_peak_tflops(torch)
    if args.base_model:  # a model directory (local_model.py builds one), else the runner's ~1B shape
        model = transformers.AutoModelForCausalLM.from_pretrained(args.base_model, torch_dtype=torch.bfloat16)
        config = model.config
    else:
        config = tiny_llama_config(transformers, 32000, hidden=2048, layers=16, heads=32, kv_heads=8, inter=8192)
        with torch.device("cuda"):  # random initialisation of 1B parameters takes seconds on the GPU, not a minute
            model = transformers.LlamaForCausalLM(config)
    config._attn_implementation = "sdpa"
    model = model.to("cuda", torch.bfloat16)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    n_params = sum(p.numel() for p in model.parameters())
    model = get_peft_model(model, LoraConfig(r=args.lora_rank, lora_alpha=args.lora_alpha, lora_dropout=0.0,
                                             target_modules=target_modules(args.target_modules),
                                             task_type="CAUSAL_LM"))
    matmul_params = matmul_parameters(model)
    forward = torch.compile(model) if args.bench_compile else model
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.learning_rate)
    b, s = args.bench_micro_batch_size, args.bench_seq_length
    data = torch.randint(3, config.vocab_size, (b, s), device="cuda")

    def step():
        out = forward(input_ids=data, labels=data)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    warm_started = time.perf_counter()
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    warmup_seconds = time.perf_counter() - warm_started
    start = time.perf_counter()
    for i in range(args.bench_steps):
        step()
        if (i + 1) % 5 == 0:
            emit("progress", step=i + 1, total_steps=args.bench_steps)
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    flops = lora_train_flops(config, matmul_params, [s] * b * args.bench_steps)
    return {
        "parameters": n_params,
        "matmul_parameters": matmul_params,
        "micro_batch_size": b,
        "seq_length": s,
        "target_modules": args.target_modules,
        "compiled": args.bench_compile,
        "gradient_checkpointing": args.gradient_checkpointing,
        "warmup_seconds": warmup_seconds,
        "tokens_per_second": b * s * args.bench_steps / elapsed,
        **utilisation(torch, flops, elapsed, peak),
        # 6N, the convention of full fine-tuning, for comparison with reports that use it.
        "mfu_6n_convention": (flops + 2 * matmul_params * b * s * args.bench_steps) / elapsed / 1e12 /
        (datasheet_peak_tflops(torch.cuda.get_device_name(0)) or peak),
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2 ** 30,
    }


def main(argv: list[str]) -> int:
    try:
        args = parse_args(argv)
        if args.count_tokens:
            serve_token_counts(load_chat_tokenizer(args.tokenizer or args.base_model), sys.stdin, sys.stdout)
        elif args.check:
            emit("done", metrics=check_mode(args))
        elif args.bench_mfu:
            emit("done", metrics=bench_mfu(args))
        else:
            emit("done", metrics=train(args))
        return 0
    except UserError as e:
        emit("error", **{"class": "user_error", "message": str(e)})
        return EXIT_USER_ERROR
    except SystemExit as e:  # argparse
        if e.code not in (0, None):
            emit("error", **{"class": "user_error", "message": "bad command-line arguments"})
            return EXIT_USER_ERROR
        return 0
    except BaseException as e:  # noqa: BLE001 - classify everything for the agent
        if is_oom(e):
            emit("error", **{"class": "out_of_memory", "message": str(e)[:2000]})
            return EXIT_OOM
        if isinstance(e, ModuleNotFoundError):
            emit("error", **{"class": "user_error", "message": f"{e}; install torch, transformers and peft"})
            return EXIT_USER_ERROR
        emit("error", **{"class": "transient", "message": f"{type(e).__name__}: {e}"[:2000]})
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
