#!/usr/bin/env python3
"""Writes the small committed fixtures of the tokenizer unit tests into data/.

  byte_level.tokenizer.json   BPE trained by HF `tokenizers` on TRAINING_TEXT:
                              Qwen2-style Split(regex) + ByteLevel, ByteLevel
                              decoder, ChatML special tokens (+ one lstrip/
                              rstrip token and one non-special added token)
  metaspace.tokenizer.json    the same in the newer Llama/Mistral layout
                              (Metaspace pre-tokenizer and decoder)
  sentencepiece.tokenizer.json  BPE trained the same way but in the Llama 2
                              layout: Prepend/Replace U+2581 normalizer,
                              byte_fallback with <0x00>..<0xFF>, decoder
                              Replace/ByteFallback/Fuse/Strip, BOS template
  goldens.json                for each fixture: HF `tokenizers` ids and decode
                              for every case text (with and without special
                              tokens), and HF decodes of chosen id lists
                              (broken UTF-8 included)
  chat_template_cases.json    jinja2 renderings of verbatim model chat
                              templates (or the error they raise)

Needs: tokenizers, jinja2. Re-run after changing it; commit data/.
"""

import json
import pathlib

import jinja2
import tokenizers
from tokenizers import AddedToken, decoders, models, normalizers, pre_tokenizers, trainers

DATA = pathlib.Path(__file__).with_name("data")

TRAINING_TEXT = [
    "Hello world! The quick brown fox jumps over the lazy dog.",
    "It's a test: we're checking the tokenizer's merges, they'll work.",
    "Numbers 0123456789 and 3.14159, 1,000,000 and 42.",
    "def add(a, b):\n    return a + b\n",
    "Tabs\tand  double  spaces   and\nnewlines\n\n",
    "café naïve résumé — “quotes” and ‘single’",
    "中文 日本語 한국어 😀 👍🏽",
    "hello hello hello world world tokenizer tokenizer",
]

CASES = [
    "", "Hello world", " Hello world", "hello   world  ", "Hello\nworld\n\n", "\t\tindented",
    "It's we're THEY'LL don't", "1234567", "3.14", "café", "cafe\u0301", "naïve résumé",
    "中文", "日本語のテキスト", "😀", "👍🏽", "👨‍👩‍👧‍👦", "ẞ unseen ǅ",
    "<|im_start|>user\nHi<|im_end|>\n", "a<|endoftext|>b", "x <|tool|> y",
    "<|im_start|><|im_end|>", "<|im_start", "keyword in text", "zebra-quokka",
    "<|sep|>after sep", "before<|sep|> after", " leading space",
    "   ", "\n", "mixed 中文 and English 123",
]

CHATML_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def train(pre_tokenizer, normalizer, special_tokens, vocab_size, byte_fallback):
    model = models.BPE(byte_fallback=byte_fallback, unk_token=None if not byte_fallback else "<unk>",
                       fuse_unk=byte_fallback)
    tokenizer = tokenizers.Tokenizer(model)
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    alphabet = pre_tokenizers.ByteLevel.alphabet() if not byte_fallback else []
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special_tokens,
                                  initial_alphabet=alphabet, show_progress=False)
    tokenizer.train_from_iterator(TRAINING_TEXT, trainer)
    return tokenizer


def byte_level_fixture():
    qwen2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"
             r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(tokenizers.Regex(qwen2), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tokenizer = train(pre, None, CHATML_SPECIALS, 400, False)
    tokenizer.decoder = decoders.ByteLevel()
    # An lstrip/rstrip special token and a non-special added token.
    tokenizer.add_special_tokens([AddedToken("<|tool|>", lstrip=True, rstrip=True, special=True,
                                             normalized=False)])
    tokenizer.add_tokens([AddedToken("keyword", special=False, normalized=False)])
    return tokenizer


def sentencepiece_fixture():
    bytes_ = [f"<0x{b:02X}>" for b in range(256)]
    normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"),
                                       normalizers.Replace(" ", "\u2581")])
    tokenizer = train(None, normalizer, ["<unk>", "<s>", "</s>"] + bytes_, 600, True)
    tokenizer.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                           decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    doc = json.loads(tokenizer.to_str())
    # Byte tokens are vocabulary entries, not added tokens, in Llama's files.
    doc["added_tokens"] = [t for t in doc["added_tokens"] if t["content"] not in bytes_]
    bos = doc["model"]["vocab"]["<s>"]
    doc["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [bos], "tokens": ["<s>"]}}}
    return tokenizers.Tokenizer.from_str(json.dumps(doc))


def metaspace_fixture(sentencepiece):
    """The SentencePiece fixture in the newer Llama/Mistral layout: no
    normalizer, a Metaspace pre-tokenizer (prepend only at the start of the
    input, split on U+2581) and a Metaspace decoder."""
    doc = json.loads(sentencepiece.to_str())
    doc["normalizer"] = None
    doc["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581",
                            "prepend_scheme": "first", "split": True}
    doc["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
        {"type": "ByteFallback"}, {"type": "Fuse"}]}
    doc["added_tokens"].append({"id": len(doc["model"]["vocab"]), "content": "<|sep|>",
                                "single_word": False, "lstrip": False, "rstrip": False,
                                "normalized": False, "special": True})
    return tokenizers.Tokenizer.from_str(json.dumps(doc))


def goldens(tokenizer, decode_token_lists):
    out = {"encode": [], "decode": []}
    for text in CASES:
        entry = {"text": text}
        for name, add in (("ids", False), ("ids_with_special", True)):
            entry[name] = tokenizer.encode(text, add_special_tokens=add).ids
        tokenizer.encode_special_tokens = True
        entry["ids_no_parse_special"] = tokenizer.encode(text, add_special_tokens=False).ids
        tokenizer.encode_special_tokens = False
        entry["decoded"] = tokenizer.decode(entry["ids"], skip_special_tokens=False)
        entry["decoded_skip_special"] = tokenizer.decode(entry["ids"], skip_special_tokens=True)
        out["encode"].append(entry)
    for tokens in decode_token_lists:
        ids = [tokenizer.token_to_id(t) for t in tokens]
        assert None not in ids, tokens
        out["decode"].append({"ids": ids, "decoded": tokenizer.decode(ids, skip_special_tokens=False)})
    return out


# Verbatim chat templates (tokenizer_config.json / GGUF tokenizer.chat_template).
TEMPLATES = {
    # SmolLM2-135M-Instruct, from the GGUF that scripts/fetch-models.sh installs.
    "smollm2": ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
                "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
                "Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
                "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
                "{{ '<|im_start|>assistant\n' }}{% endif %}", "", "<|im_end|>"),
    # Plain ChatML (Qwen2-style without a default system prompt).
    "chatml": ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
               "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
               "{{ '<|im_start|>assistant\n' }}{% endif %}", "", "<|im_end|>"),
    # Meta-Llama-3-8B-Instruct.
    "llama3": ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
               "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] "
               "| trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content "
               "%}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
               "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
               "<|begin_of_text|>", "<|eot_id|>"),
    # Llama-2-7b-chat-hf.
    "llama2": ("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
               "system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
               "{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if "
               "(message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation "
               "roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 "
               "== 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
               "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] "
               "%}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + "
               "content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + "
               "content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}", "<s>", "</s>"),
    # Mistral-7B-Instruct-v0.2 / Mixtral-8x7B-Instruct-v0.1.
    "mistral": ("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
                "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
                "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}"
                "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
                "'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only "
                "user and assistant roles are supported!') }}{% endif %}{% endfor %}", "<s>", "</s>"),
    # gemma-2-9b-it.
    "gemma2": ("{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role "
               "not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == "
               "'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must "
               "alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == "
               "'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% "
               "endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + "
               "'<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}"
               "{% endif %}", "<bos>", "<eos>"),
    # gemma-3 (transformers' convert_gemma3_weights_orbax_to_hf.py _CHAT_TEMPLATE).
    "gemma3": ("{{ bos_token }}\n{%- if messages[0]['role'] == 'system' -%}\n    {%- if "
               "messages[0]['content'] is string -%}\n        {%- set first_user_prefix = "
               "messages[0]['content'] + '\n\n' -%}\n    {%- else -%}\n        {%- set first_user_prefix"
               " = messages[0]['content'][0]['text'] + '\n\n' -%}\n    {%- endif -%}\n    {%- set "
               "loop_messages = messages[1:] -%}\n{%- else -%}\n    {%- set first_user_prefix = \"\" -%}"
               "\n    {%- set loop_messages = messages -%}\n{%- endif -%}\n{%- for message in "
               "loop_messages -%}\n    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
               "\n        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/"
               "assistant/...\") }}\n    {%- endif -%}\n    {%- if (message['role'] == 'assistant') -%}"
               "\n        {%- set role = \"model\" -%}\n    {%- else -%}\n        {%- set role = "
               "message['role'] -%}\n    {%- endif -%}\n    {{ '<start_of_turn>' + role + '\n' + "
               "(first_user_prefix if loop.first else \"\") }}\n    {%- if message['content'] is string "
               "-%}\n        {{ message['content'] | trim }}\n    {%- elif message['content'] is "
               "iterable -%}\n        {%- for item in message['content'] -%}\n            {%- if "
               "item['type'] == 'image' -%}\n                {{ '<start_of_image>' }}\n            {%- "
               "elif item['type'] == 'text' -%}\n                {{ item['text'] | trim }}\n            "
               "{%- endif -%}\n        {%- endfor -%}\n    {%- else -%}\n        {{ raise_exception("
               "\"Invalid content type\") }}\n    {%- endif -%}\n    {{ '<end_of_turn>\n' }}\n{%- endfor"
               " -%}\n{%- if add_generation_prompt -%}\n    {{'<start_of_turn>model\n'}}\n{%- endif -%}\n",
               "<bos>", "<eos>"),
}

CONVERSATIONS = {
    "user_only": [{"role": "user", "content": "Hello!"}],
    "with_system": [{"role": "system", "content": "You are terse."},
                    {"role": "user", "content": "  What is 2+2?  "}],
    "multi_turn": [{"role": "user", "content": "Hi"},
                   {"role": "assistant", "content": " Hello! How can I help?\n"},
                   {"role": "user", "content": "Tell me a joke 😀"}],
    "system_multi_turn": [{"role": "system", "content": "Be kind.\n"},
                          {"role": "user", "content": "héllo\twörld"},
                          {"role": "assistant", "content": "Hi there"},
                          {"role": "user", "content": "Again"}],
    "not_alternating": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
    "empty": [],
}


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def chat_cases():
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)  # as transformers renders
    env.globals["raise_exception"] = raise_exception
    cases = []
    for name, (source, bos, eos) in TEMPLATES.items():
        template = env.from_string(source)
        for conversation_name, messages in CONVERSATIONS.items():
            for add_generation_prompt in (False, True):
                case = {"template_name": name, "conversation": conversation_name,
                        "template": source, "bos_token": bos, "eos_token": eos,
                        "messages": messages, "add_generation_prompt": add_generation_prompt}
                try:
                    case["expected"] = template.render(messages=messages, bos_token=bos,
                                                       eos_token=eos,
                                                       add_generation_prompt=add_generation_prompt)
                except (jinja2.exceptions.TemplateError, IndexError, TypeError) as error:
                    case["error"] = str(error)
                cases.append(case)
    return cases


def write(name, obj):
    (DATA / name).write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main():
    DATA.mkdir(exist_ok=True)
    byte_level = byte_level_fixture()
    sentencepiece = sentencepiece_fixture()
    (DATA / "byte_level.tokenizer.json").write_text(byte_level.to_str(), encoding="utf-8")
    metaspace = metaspace_fixture(sentencepiece)
    (DATA / "sentencepiece.tokenizer.json").write_text(sentencepiece.to_str(), encoding="utf-8")
    (DATA / "metaspace.tokenizer.json").write_text(metaspace.to_str(), encoding="utf-8")
    write("goldens.json", {
        "byte_level": goldens(byte_level, [
            ["Ã"], ["â", "Ģ"], ["Ã", "©", "Ã"], ["ð", "Ł", "ĺ"], ["H", "Ã", "e"],
            ["<|im_start|>", "H", "<|im_end|>"], ["ð", "Ł"], ["Ģ"], ["í", "ł", "Ģ"]]),
        "sentencepiece": goldens(sentencepiece, [
            ["<0xE4>", "<0xB8>"], ["<0xE4>", "<0xB8>", "<0xAD>"], ["<0xFF>"],
            ["▁", "<0xC3>", "<0xA9>", "<0xC3>"], ["<s>", "▁"], ["<0x41>", "<0x42>"]]),
        "metaspace": goldens(metaspace, [["▁", "<0xC3>", "<0xA9>"], ["<|sep|>", "▁"]]),
    })
    write("chat_template_cases.json", chat_cases())
    print(f"wrote fixtures to {DATA}")


if __name__ == "__main__":
    main()
