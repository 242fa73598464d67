#!/usr/bin/env python3
"""Writes test/data/tokenizer_corpus.txt: the tokenizer parity corpus.

Every line is generated here from hand-written word lists and templates (no
copied text), deterministically (fixed seed), so re-running it reproduces the
committed file byte for byte. The lines cover what breaks tokenizers: prose,
CJK, emoji with ZWJ sequences and skin tones, code, runs of spaces, tabs and
(escaped, since the corpus is line based) newlines, digits and long numbers,
contractions, special-token text inline, combining characters, RTL and Indic
scripts, and mixed scripts. The parity test also joins groups of lines with
real newlines, so multi-line inputs are covered too.

    python3 test/data/gen_tokenizer_corpus.py            # rewrite the file
    python3 test/data/gen_tokenizer_corpus.py --check    # exit 1 if stale
"""

import argparse
import pathlib
import random
import sys

OUT = pathlib.Path(__file__).with_name("tokenizer_corpus.txt")

SUBJECTS = ["the compiler", "a small model", "our runtime", "the scheduler", "every kernel",
            "this tokenizer", "the old lighthouse", "my neighbour's cat", "a careful reader",
            "the river", "an engineer", "the weather", "their garden", "the committee",
            "a quiet village", "the orchestra", "your request", "the database", "a new pass"]
VERBS = ["splits", "merges", "reads", "writes", "compiles", "ignores", "remembers", "measures",
         "rewrites", "schedules", "paints", "crosses", "answers", "doubles", "quantizes",
         "streams", "follows", "questions", "celebrates"]
OBJECTS = ["the input", "seven tokens", "a long sentence", "the weights", "every byte",
           "the morning light", "a cold cup of tea", "the final report", "two hundred files",
           "the hidden state", "an empty line", "the last train home", "a blue notebook"]
ADVERBS = ["quickly", "slowly", "again", "carefully", "without a sound", "twice", "at dawn",
           "in parallel", "by hand", "on Tuesday", "as expected", "for no reason"]
CONTRACTIONS = ["it's", "don't", "we're", "they've", "I'm", "you'll", "she'd", "can't",
                "won't", "isn't", "Let's", "y'all", "o'clock", "rock 'n' roll", "'tis",
                "IT'S", "DON'T", "We'Re", "THEY'VE", "I'M", "YOU'LL", "he'D"]
CHINESE = ["我们今天去公园散步。", "编译器把模型转换成高效的代码。", "这个句子包含中文和English混合。",
           "人工智能正在改变世界。", "请把文件保存到桌面上。", "北京的秋天非常美丽。",
           "他说：“明天见！”", "数字１２３和全角字符ＡＢＣ。", "简体与繁體字並存。", "一二三四五六七八九十"]
JAPANESE = ["今日はいい天気ですね。", "トークナイザーのテストを書きました。", "東京タワーに行きたい！",
            "ひらがなとカタカナと漢字を混ぜる。", "コンパイラは速いです。", "ｶﾀｶﾅの半角もあります。",
            "「こんにちは」と彼女は言った。"]
KOREAN = ["안녕하세요, 만나서 반갑습니다.", "오늘은 날씨가 좋네요.", "토크나이저를 테스트합니다.",
          "한국어와 English를 섞어 씁니다.", "서울의 밤은 아름답다.", "ㄱㄴㄷㄹ 자모만 있는 줄"]
ARABIC = ["مرحبا بالعالم", "اللغة العربية جميلة جداً", "كتب المهندس ١٢٣ سطراً من الشيفرة",
          "هذا نص عربي مع English في الوسط"]
HEBREW = ["שלום עולם", "העברית נכתבת מימין לשמאל", "מספר 42 באמצע המשפט"]
DEVANAGARI = ["नमस्ते दुनिया", "यह एक परीक्षण वाक्य है।", "हिन्दी और संस्कृत देवनागरी में लिखी जाती हैं",
              "क्षत्रिय ज्ञान श्री"]
OTHER_SCRIPTS = ["Привет, мир! Как дела?", "Γειά σου Κόσμε", "สวัสดีชาวโลก", "Xin chào thế giới",
                 "Ողջույն աշխարհ", "გამარჯობა მსოფლიო", "ሰላም ዓለም", "Zdravo svete, čćžšđ",
                 "Türkçe: ığüşöç İĞÜŞÖÇ", "Polski: zażółć gęślą jaźń", "Dansk: æøå ÆØÅ",
                 "தமிழ் எழுத்துக்கள்", "বাংলা ভাষা", "ಕನ್ನಡ ಲಿಪಿ", "മലയാളം", "ພາສາລາວ", "ខ្មែរ"]
EMOJI = ["😀", "🎉", "👍", "👍🏽", "👋🏿", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👩🏽‍💻", "🧑‍🚀", "❤️", "🇯🇵", "🇺🇸",
         "🤷‍♀️", "🙋🏻‍♂️", "✈️", "☕", "🔥🔥🔥", "🐍", "🦀", "1️⃣", "#️⃣", "🫠", "🪐", "👁️‍🗨️"]
SPECIAL_TEXT = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "<unk>",
                "<|begin_of_text|>", "<|eot_id|>", "<start_of_turn>", "<end_of_turn>", "<bos>",
                "<eos>", "<pad>", "<|im_start|>user", "<|im_start|>assistant\\n",
                "<repo_name>", "<file_sep>", "[INST]", "[/INST]", "<<SYS>>", "<0x41>", "<0xZZ>"]
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "Z\u0351\u0354\u0367", "café",
             "cafe\u0301", "naïve", "coöperate", "Ångström", "A\u030a", "ﬁ ligature", "Ⅻ",
             "x\u0336y\u0336", "\u200bzero\u200bwidth", "soft\u00adhyphen", "non\u00a0breaking",
             "ideographic\u3000space", "em\u2003space", "narrow\u202fspace"]

PY_SNIPPETS = [
    "def add(a, b):", "    return a + b", "for i in range(10):", "        print(f\"{i:03d}\")",
    "class Token(NamedTuple):", "    id: int", "if __name__ == \"__main__\":",
    "    main()", "x = [i ** 2 for i in range(100) if i % 3 == 0]",
    "with open('data.txt', encoding='utf-8') as f:", "lambda x: x if x else None",
    "import numpy as np; np.zeros((4, 4), dtype=np.float32)", "try:", "except ValueError as e:",
    "    raise RuntimeError(\"bad value\") from e", "@dataclass(frozen=True)",
    "async def fetch(url: str) -> bytes:", "d = {'key': [1, 2, 3], \"other\": None}",
]
CPP_SNIPPETS = [
    "#include <vector>", "int main(int argc, char **argv) {", "  return 0;", "}",
    "std::vector<int32_t> ids{1, 2, 3};", "template <typename T> T max(T a, T b);",
    "for (size_t i = 0; i < n; ++i) sum += a[i] * b[i];", "auto it = map.find(key);",
    "if (ptr == nullptr) { throw std::runtime_error(\"null\"); }",
    "namespace llmc::tokenizer {", "}  // namespace", "constexpr uint64_t kMask = 0xFFFF'FFFF;",
    "static_assert(sizeof(float) == 4);", "x <<= 3; y >>= 1; z = x ^ y | ~w & v;",
    "std::unique_ptr<Foo> foo = std::make_unique<Foo>();", "/* block comment */ // line comment",
]
JSON_SNIPPETS = [
    '{"name": "llmc", "version": "0.1.0", "tags": ["compiler", "runtime"]}',
    '{"a":1,"b":[true,false,null],"c":{"d":"e"}}', '[1, 2.5, -3e10, "four", {"five": 5}]',
    '{"text": "line one\\nline two\\ttabbed", "emoji": "\\ud83d\\ude00"}',
    '{"role": "user", "content": "Hello!"}', '{"nested": {"deep": {"deeper": [[[]]]}}}',
]
PUNCT = ["...", "!!!", "???", "?!", "--", "---", "—", "–", "…", "«quoted»", "„low“", "‘single’",
         "“double”", "(parens)", "[brackets]", "{braces}", "<angle>", "@user", "#hashtag",
         "$100", "€50", "£3", "¥1000", "50%", "a&b", "x*y", "~tilde~", "`code`", "|pipe|",
         "back\\slash", "semi;colon", "co:lon", "under_score", "hyphen-ated", "dot.separated",
         "e-mail@example.com", "https://example.org/path?q=1&r=2#frag", "C:\\Users\\test",
         "/usr/local/bin", "¿Qué?", "¡Hola!", "§ 12", "© 2024", "™", "°C", "±0.5", "≤ ≥ ≠ ≈ ∞"]


def sentence(rng):
    words = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(ADVERBS)]
    text = " ".join(words)
    text = text[0].upper() + text[1:]
    return text + rng.choice([".", "!", "?", "...", ";", ":", ""])


def number(rng):
    kind = rng.randrange(8)
    if kind == 0:
        return str(rng.randrange(10))
    if kind == 1:
        return str(rng.randrange(10 ** rng.randrange(2, 30)))
    if kind == 2:
        return f"{rng.uniform(-1e6, 1e6):.{rng.randrange(1, 8)}f}"
    if kind == 3:
        return f"{rng.randrange(10**9):,}"
    if kind == 4:
        return f"{rng.random():e}"
    if kind == 5:
        return f"0x{rng.randrange(16**8):08X}"
    if kind == 6:
        return f"{rng.randrange(1900, 2100)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    return "".join(rng.choice("0123456789") for _ in range(rng.randrange(30, 80)))


def whitespace_run(rng):
    return "".join(rng.choice([" ", " ", " ", "\t", "\u00a0", "\u3000", "\r", "\\n"])
                   for _ in range(rng.randrange(1, 9)))


def pick(rng, items, count):
    return [rng.choice(items) for _ in range(count)]


def line_of(kind, rng):
    if kind == "prose":
        return " ".join(sentence(rng) for _ in range(rng.randrange(1, 4)))
    if kind == "contractions":
        words = pick(rng, CONTRACTIONS, rng.randrange(2, 6)) + [sentence(rng)]
        rng.shuffle(words)
        return " ".join(words)
    if kind == "cjk":
        return "".join(pick(rng, CHINESE + JAPANESE + KOREAN, rng.randrange(1, 4)))
    if kind == "rtl_indic":
        return " ".join(pick(rng, ARABIC + HEBREW + DEVANAGARI, rng.randrange(1, 3)))
    if kind == "scripts":
        return " ".join(pick(rng, OTHER_SCRIPTS, rng.randrange(1, 3)))
    if kind == "emoji":
        parts = pick(rng, EMOJI, rng.randrange(1, 6))
        if rng.random() < 0.5:
            parts.insert(rng.randrange(len(parts) + 1), sentence(rng))
        return rng.choice(["", " ", "  "]).join(parts)
    if kind == "python":
        return rng.choice(PY_SNIPPETS)
    if kind == "cpp":
        return rng.choice(CPP_SNIPPETS)
    if kind == "json":
        return rng.choice(JSON_SNIPPETS)
    if kind == "whitespace":
        words = [sentence(rng).split()[0] for _ in range(rng.randrange(2, 5))]
        out = whitespace_run(rng) if rng.random() < 0.5 else ""
        for word in words:
            out += word + whitespace_run(rng)
        return out if rng.random() < 0.5 else out.rstrip(" ")
    if kind == "numbers":
        return " ".join(number(rng) for _ in range(rng.randrange(1, 5))) + rng.choice(
            ["", " apples", " km/h", "%", " USD", "th", "nd place"])
    if kind == "punct":
        return " ".join(pick(rng, PUNCT, rng.randrange(2, 7)))
    if kind == "special":
        parts = [sentence(rng), rng.choice(SPECIAL_TEXT), rng.choice(SPECIAL_TEXT)]
        rng.shuffle(parts)
        return rng.choice(["", " ", "\t"]).join(parts)
    if kind == "combining":
        return " ".join(pick(rng, COMBINING, rng.randrange(1, 5)))
    if kind == "mixed":
        pools = [CHINESE, JAPANESE, KOREAN, ARABIC, HEBREW, DEVANAGARI, OTHER_SCRIPTS, EMOJI,
                 PUNCT, CONTRACTIONS, COMBINING, SPECIAL_TEXT]
        parts = [rng.choice(rng.choice(pools)) for _ in range(rng.randrange(2, 6))]
        parts.append(number(rng))
        rng.shuffle(parts)
        return rng.choice(["", " "]).join(parts)
    raise ValueError(kind)


FIXED = [
    # Edge cases written out by hand, first in the file.
    "Hello world", " Hello world", "  Hello  world  ", "hello\tworld", "Hello,world!",
    "a", " ", "  ", "\t", "\t\t\t", " \t \t", "x y", "x  y", "x   y", "x    y",
    "I'm", "I'M", "it's", "It'S", "don't", "'s", "''", "'", "'''", "'re 've 'm 'll 'd 't",
    "0", "1", "12", "123", "1234", "12345", "3.14159", "1,000,000", "-42", "+7", "1e-9",
    "123abc456", "abc123def", "٣٤٥", "１２３", "½ ¾ ⅓", "²³¹", "①②③",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|>system", "<|im_start|> user",
    "text<|endoftext|>text", " <|im_end|> ", "<|im_start|><|im_end|>", "<|im_start", "|im_end|>",
    "<start_of_turn>user", "<end_of_turn>", "<bos><eos>", "<0x0A>", "<0x41><0x42>",
    "😀", "👨‍👩‍👧‍👦", "👍🏽", "🏳️‍🌈", "🇯🇵🇺🇸", "e\u0301", "\u0301", "\u200d", "\ufeffbom",
    "\u00a0", "a\u00a0b", "\u3000", "\u2028", "\u0085next", "\x0b\x0c", "\r", "end\r",
    "ﬀ ﬁ ﬂ", "Ⅸ", "ǅ", "ß", "ẞ", "İstanbul", "ǰ", "ﷺ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𠀀𠀁", "\U0010fffd",
    "   leading spaces", "trailing spaces   ", "\ttab first", "tab last\t",
    "....", "....!!!!", "a-b_c.d", "snake_case_name", "camelCaseName", "SCREAMING_CASE",
    "https://huggingface.co/docs", "user@example.com", "#include <stdio.h>",
    "if (a < b && c > d) { return; }", "    indented four", "        indented eight",
    "def f(x):\\n    return x", "SELECT * FROM t WHERE id = 1;", "<div class=\"x\">y</div>",
]


def generate():
    rng = random.Random(20240601)
    kinds = ["prose"] * 4 + ["contractions", "cjk", "cjk", "rtl_indic", "scripts", "emoji",
                             "emoji", "python", "cpp", "json", "whitespace", "whitespace",
                             "numbers", "numbers", "punct", "special", "special",
                             "combining", "mixed", "mixed"]
    lines = list(FIXED)
    seen = set(lines)
    while len(lines) < 2200:
        line = line_of(rng.choice(kinds), rng)
        # The corpus is read line by line: no raw line breaks inside a line.
        line = line.replace("\n", "\\n").replace("\r", "\\r")
        for breaker in ("\u0085", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"):
            line = line.replace(breaker, " ")
        if line and line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


def serialize(lines):
    return "".join(line + "\n" for line in lines)


def read_corpus(path=OUT):
    """The corpus lines: split on '\\n' only (str.splitlines would also split
    on U+2028, U+0085, ... which the hand-written edge cases contain)."""
    text = path.read_bytes().decode("utf-8")  # keeps "\r" as is
    assert text.endswith("\n")
    return text[:-1].split("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args()
    text = serialize(generate())
    if args.check:
        if not OUT.exists() or OUT.read_bytes().decode("utf-8") != text:
            print(f"{OUT} is stale: run {sys.argv[0]}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8", newline="")
    print(f"wrote {len(generate())} lines to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
