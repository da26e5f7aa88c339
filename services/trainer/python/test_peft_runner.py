"""Tests of the runner's example building against serving's tokenisation: python3 -m unittest test_peft_runner
(from this folder; services/trainer's npm test runs it). The transformers tests are skipped, with the reason,
where transformers and tokenizers are not installed; the jinja2 ones render real chat template strings."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peft_runner  # noqa: E402

try:
    import jinja2  # noqa: F401
    JINJA = True
except ImportError:
    JINJA = False
try:
    import tokenizers  # noqa: F401
    import transformers  # noqa: F401
    TRANSFORMERS = True
except ImportError:
    TRANSFORMERS = False

SERVED = [
    {"role": "system", "content": "Answer from the context only."},
    {"role": "user", "content": "Context:\n[1] (source: doc-1)\nKepra has three moons.\n\n"
                                "Question: How many moons does Kepra have?\nAnswer:"},
]
EXAMPLE = {"id": "fact-2", "messages": SERVED, "completion": "three"}


def check_example(case: unittest.TestCase, tokenizer) -> None:
    """The example is the serving request's ids, then the answer and EOS; the loss sees only the latter."""
    served = peft_runner.chat_prompt_ids(tokenizer, SERVED)
    input_ids, labels = peft_runner.build_example(tokenizer, EXAMPLE, 4096)
    answer = list(tokenizer("three", add_special_tokens=False)["input_ids"])
    case.assertEqual(input_ids, served + answer + [tokenizer.eos_token_id])
    case.assertEqual(labels, [-100] * len(served) + answer + [tokenizer.eos_token_id])
    case.assertTrue(answer, "the answer has tokens")


@unittest.skipUnless(JINJA, "jinja2 is not installed")
class JinjaTemplateTest(unittest.TestCase):
    def setUp(self):
        import chat_template_testing
        self.chatml = chat_template_testing.tokenizer_for("chatml")
        self.mistral = chat_template_testing.tokenizer_for("mistral")

    def test_example_is_the_served_prompt_then_answer_and_eos(self):
        check_example(self, self.chatml)
        text = self.chatml.apply_chat_template(SERVED, add_generation_prompt=True, tokenize=False)
        self.assertTrue(text.endswith("<|im_start|>assistant\n"), "the generation prompt is part of the prompt")

    def test_template_that_rejects_a_system_role_fails_loudly(self):
        with self.assertRaises(Exception):
            peft_runner.build_example(self.mistral, EXAMPLE, 4096)
        folded = {**EXAMPLE, "messages": [{"role": "user", "content": SERVED[0]["content"] + "\n\n" +
                                           SERVED[1]["content"]}]}
        ids, _ = peft_runner.build_example(self.mistral, folded, 4096)
        self.assertEqual(ids[0], self.mistral.bos_token_id, "the template's BOS, once")
        self.assertNotEqual(ids[1], self.mistral.bos_token_id)

    def test_over_long_example_is_refused_not_cut(self):
        with self.assertRaisesRegex(peft_runner.UserError, r"fact-2 has \d+ tokens .* over max_seq_length 20"):
            peft_runner.build_example(self.chatml, EXAMPLE, 20)

    def test_token_count_protocol(self):
        out = io.StringIO()
        requests = [json.dumps({"messages": SERVED}), json.dumps({"text": "three"}), "{}", ""]
        peft_runner.serve_token_counts(self.chatml, requests, out)
        answers = [json.loads(line) for line in out.getvalue().splitlines()]
        self.assertEqual(answers[0], {"tokens": len(peft_runner.chat_prompt_ids(self.chatml, SERVED))})
        self.assertEqual(answers[1], {"tokens": 5})
        self.assertIn("needs messages or text", answers[2]["error"])
        self.assertEqual(len(answers), 3)


class DataTest(unittest.TestCase):
    def test_reads_chat_lines_and_refuses_the_old_prompt_layout(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "train.jsonl")
            with open(path, "w") as f:
                f.write(json.dumps(EXAMPLE) + "\n")
            self.assertEqual(peft_runner.read_examples(path)[0]["messages"], SERVED)
            with open(path, "w") as f:
                f.write(json.dumps({"prompt": "Q", "completion": " A"}) + "\n")
            with self.assertRaisesRegex(peft_runner.UserError, "data line 1: needs messages"):
                peft_runner.read_examples(path)


@unittest.skipUnless(TRANSFORMERS, "transformers and tokenizers are not installed here")
class TransformersTokenizerTest(unittest.TestCase):
    """A tiny tokenizer built here (WordLevel over a few sentences, ChatML template), saved and loaded as a model's."""

    def setUp(self):
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers
        from transformers import PreTrainedTokenizerFast

        specials = ["<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        corpus = [m["content"] for m in SERVED] + ["three system user assistant"]
        tok.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=specials))
        self.tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<|endoftext|>",
                                                 eos_token="<|im_end|>", additional_special_tokens=specials[2:])
        import chat_template_testing
        self.tokenizer.chat_template = chat_template_testing.CHATML_TEMPLATE
        self.dir = tempfile.TemporaryDirectory()
        self.tokenizer.save_pretrained(self.dir.name)

    def tearDown(self):
        self.dir.cleanup()

    def test_example_matches_apply_chat_template_on_the_served_messages(self):
        tokenizer = peft_runner.load_chat_tokenizer(self.dir.name)
        check_example(self, tokenizer)
        expected = tokenizer.apply_chat_template(SERVED, add_generation_prompt=True, tokenize=True)
        if hasattr(expected, "keys"):
            expected = expected["input_ids"]
        self.assertEqual(peft_runner.chat_prompt_ids(tokenizer, SERVED), list(expected))

    def test_count_tokens_mode_loads_the_tokenizer(self):
        result = subprocess.run(
            [sys.executable, os.path.join(HERE, "peft_runner.py"), "--count-tokens", "--tokenizer", self.dir.name],
            input=json.dumps({"messages": SERVED}) + "\n", capture_output=True, text=True, check=True)
        expected = len(peft_runner.chat_prompt_ids(self.tokenizer, SERVED))
        self.assertEqual(json.loads(result.stdout.splitlines()[-1]), {"tokens": expected})


if __name__ == "__main__":
    unittest.main()
