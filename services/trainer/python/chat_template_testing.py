"""Test-only tokenizers for checking that fine-tuning examples match serving requests token for token, on
machines without transformers: a real Hugging Face chat template string rendered by jinja2 the way transformers
renders it (sandboxed, trim_blocks, lstrip_blocks, raise_exception), then special tokens and UTF-8 bytes as ids.
Never used by the runner outside tests.

As a script it speaks the runner's --count-tokens protocol with one of these tokenizers, so the agent's token
counter can be tested across the process boundary:  python3 chat_template_testing.py count mistral
Or it prints a training example's and a serving request's ids:  python3 chat_template_testing.py compare mistral
with {"example": <data line>, "served_messages": [...], "max_seq_length": n} on stdin.
"""
from __future__ import annotations

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peft_runner  # noqa: E402

# Mistral-7B-Instruct-v0.1/v0.2's template: user/assistant only, a system message raises, as vLLM reports it.
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)

# ChatML (Qwen2 instruct and others): a system role, and a generation prompt only when asked for.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

TEMPLATES = {
    "mistral": (MISTRAL_TEMPLATE, "<s>", "</s>"),
    "chatml": (CHATML_TEMPLATE, "<|endoftext|>", "<|im_end|>"),
}


class JinjaByteTokenizer:
    """Special tokens get ids 1.., every other byte 16 + its value."""

    def __init__(self, template: str, bos_token: str, eos_token: str):
        import jinja2.ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message):
            raise jinja2.exceptions.TemplateError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=[jinja2.ext.loopcontrols])
        env.globals["raise_exception"] = raise_exception
        self.chat_template = template
        self.compiled = env.from_string(template)
        self.bos_token, self.eos_token = bos_token, eos_token
        self.specials = [bos_token, eos_token, "<|im_start|>", "<|im_end|>"]
        self.specials = list(dict.fromkeys(self.specials))
        self.bos_token_id = self.specials.index(bos_token) + 1
        self.eos_token_id = self.specials.index(eos_token) + 1
        self.split = re.compile("(" + "|".join(re.escape(s) for s in self.specials) + ")")

    def encode_text(self, text: str) -> list[int]:
        ids: list[int] = []
        for part in self.split.split(text):
            if part in self.specials:
                ids.append(self.specials.index(part) + 1)
            elif part:
                ids.extend(16 + b for b in part.encode("utf-8"))
        return ids

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict:
        return {"input_ids": ([self.bos_token_id] if add_special_tokens else []) + self.encode_text(text)}

    def apply_chat_template(self, messages, add_generation_prompt=False, tokenize=True):
        text = self.compiled.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                    bos_token=self.bos_token, eos_token=self.eos_token)
        # transformers tokenises the rendered template without adding special tokens: the template wrote them.
        return self.encode_text(text) if tokenize else text


def tokenizer_for(name: str) -> JinjaByteTokenizer:
    return JinjaByteTokenizer(*TEMPLATES[name])


if __name__ == "__main__":
    mode, name = sys.argv[1], sys.argv[2]
    tok = tokenizer_for(name)
    if mode == "count":
        peft_runner.serve_token_counts(tok, sys.stdin, sys.stdout)
    else:
        request = json.load(sys.stdin)
        input_ids, labels = peft_runner.build_example(tok, request["example"], request["max_seq_length"])
        served = peft_runner.chat_prompt_ids(tok, request["served_messages"])
        print(json.dumps({"input_ids": input_ids, "labels": labels, "served_ids": served,
                          "answer_ids": peft_runner.text_ids(tok, request["example"]["completion"]),
                          "eos_id": tok.eos_token_id}))
