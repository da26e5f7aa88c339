#!/usr/bin/env python3
"""A base model for the PEFT runner built here, with no download: a byte-level BPE tokenizer trained on local text
with a ChatML chat template, and a randomly initialised Llama-architecture model from a config, saved together as
a Hugging Face model directory (config.json, model.safetensors, tokenizer.json, tokenizer_config.json).

The runner loads it like any hub model (--base-model DIR), so its real path (tokenizer, chat template, LoRA, the
adapter it writes) runs on a GPU machine that cannot reach a model hub. The weights are random, so the losses say
nothing about answer quality; throughput and memory are those of the architecture.

  python3 local_model.py --output DIR --size 1b --text train.jsonl [--text more.txt ...]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The ChatML template the agent's training data was fitted with (write-training-data.ts counts with it).
from chat_template_testing import CHATML_TEMPLATE  # noqa: E402

SPECIAL_TOKENS = ["<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Llama shapes: "1b" is TinyLlama-1.1B's (22 layers, hidden 2048, GQA 32/4 heads, MLP 5632).
SIZES = {
    "tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2},
    "1b": {"hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32,
           "num_key_value_heads": 4},
}


def corpus_lines(paths: list[str]):
    """Text to learn merges from: a training JSONL's messages and completions, or any text file's lines."""
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    yield line
                    continue
                if isinstance(record, dict):
                    for message in record.get("messages", []):
                        yield message.get("content", "")
                    yield record.get("completion", "")


def build_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<|pad|>", bos_token="<|endoftext|>",
                                        eos_token="<|im_end|>")
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def build_model(size: str, vocab_size: int, tokenizer, seed: int):
    import torch
    import transformers

    torch.manual_seed(seed)
    config = transformers.LlamaConfig(vocab_size=vocab_size, max_position_embeddings=4096,
                                      pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                                      eos_token_id=tokenizer.eos_token_id, **SIZES[size])
    return transformers.LlamaForCausalLM(config).to(torch.bfloat16)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--output", required=True)
    p.add_argument("--size", choices=sorted(SIZES), default="tiny")
    p.add_argument("--text", action="append", required=True, help="JSONL of runner data or plain text; repeatable")
    p.add_argument("--vocab-size", type=int, default=32000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    texts = [t for t in corpus_lines(args.text) if t]
    tokenizer = build_tokenizer(texts, args.vocab_size)
    # A small corpus learns fewer merges than asked; the embedding keeps the asked size so the model's shape (and
    # FLOPs) are those of the reference architecture, the unused rows never seen.
    model = build_model(args.size, max(args.vocab_size, len(tokenizer)), tokenizer, args.seed)
    model.save_pretrained(args.output)
    tokenizer.save_pretrained(args.output)
    parameters = sum(p.numel() for p in model.parameters())
    print(json.dumps({"event": "built", "output": args.output, "size": args.size, "parameters": parameters,
                      "vocab_size": len(tokenizer)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
