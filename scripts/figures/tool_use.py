"""Module 12's figure: the token stream of one calculator call, as ``nanochat_ref.engine.Engine.generate`` emits it.

Measured, not drawn from a description: a tiny tokenizer (the reference's ``RustBPETokenizer``, trained with the
pure-Python backend on two sentences) and a scripted stand-in for the model run through the reference engine.
The model proposes the tokens of a reply that writes ``<|python_start|>12*12<|python_end|>``; the engine's state
machine evaluates the expression with ``use_calculator`` and forces ``<|output_start|>144<|output_end|>`` into the
stream with mask 0. The model advances through its script only when the token it proposed was emitted, so while the
engine forces tokens it keeps proposing the same one, exactly as a real model would be overruled.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch

from scripts.figures.svg import MUTED, PALETTE, Svg

TEXTS = ["The answer is 144. Twelve times twelve is 144, so the box holds 144 eggs."] * 4
REPLY_BEFORE = " Twelve times twelve is"
EXPR = "12*12"
REPLY_AFTER = " so the box holds 144 eggs."
SPECIALS = ("<|python_start|>", "<|python_end|>", "<|output_start|>", "<|output_end|>", "<|assistant_end|>")


class _ScriptedModel:
    """Proposes ``script[p]``; moves on to ``p + 1`` only once the engine has emitted ``script[p]``."""

    def __init__(self, script: list[int], vocab_size: int) -> None:
        self.script, self.vocab_size, self.pos = script, vocab_size, 0
        self.config = SimpleNamespace(n_layer=1, n_head=1, n_kv_head=1, n_embd=4, sequence_len=256)

    def get_device(self) -> torch.device:
        return torch.device("cpu")

    def forward(self, ids: torch.Tensor, kv_cache=None) -> torch.Tensor:
        B, T = ids.shape
        if kv_cache is not None:
            zeros = torch.zeros(B, 1, T, 4)
            kv_cache.insert_kv(0, zeros, zeros)
        if T == 1 and self.pos < len(self.script) and int(ids[0, 0]) == self.script[self.pos]:
            self.pos += 1  # the proposal was emitted
        logits = torch.full((B, T, self.vocab_size), -100.0)
        logits[:, :, self.script[min(self.pos, len(self.script) - 1)]] = 100.0
        return logits


def tool_stream() -> list[dict]:
    """The emitted tokens of the reply, in order: ``{"text", "mask", "special"}`` per token."""
    from nanochat_ref.engine import Engine
    from nanochat_ref.tokenizer import RustBPETokenizer

    tok = RustBPETokenizer.train_from_iterator(iter(TEXTS), 300, backend="python")
    s = tok.encode_special
    script = [
        *tok.encode(REPLY_BEFORE),
        s("<|python_start|>"),
        *tok.encode(EXPR),
        s("<|python_end|>"),
        *tok.encode(REPLY_AFTER),
        s("<|assistant_end|>"),
    ]
    names = {s(name): name for name in SPECIALS}
    engine = Engine(_ScriptedModel(script, tok.get_vocab_size()), tok)
    prompt = [tok.get_bos_token_id(), *tok.encode("How many eggs?")]
    stream = []
    for column, masks in engine.generate(prompt, temperature=0.0, max_tokens=64):
        token = column[0]
        special = names.get(token)
        stream.append(
            {"text": special or tok.decode([token]), "mask": masks[0], "special": special is not None}
        )
    return stream


WORDS = {
    "en": {
        "title": "One calculator call in the token stream (nanochat_ref.engine.Engine.generate)",
        "heading": "Tokens emitted by Engine.generate, one per step",
        "sampled": "sampled by the model (mask 1)",
        "forced": "forced by the engine (mask 0)",
        "block": "python block → decoded → use_calculator",
        "output": "use_calculator('12*12') = 144, forced",
        "notes": (
            "While the engine forces <|output_start|> 144 <|output_end|>,",
            "the model's own samples are thrown away; it sees the result in",
            "its context (the KV cache) and goes on after <|output_end|>.",
            "Mask 0 keeps RL from training on tokens the model did not choose.",
        ),
    },
    "zh": {
        "title": "一次计算器调用在 token 流中的样子（nanochat_ref.engine.Engine.generate）",
        "heading": "Engine.generate 依次输出的 token（每步一个）",
        "sampled": "模型采样（掩码 1）",
        "forced": "引擎强制插入（掩码 0）",
        "block": "python 代码块 → 解码 → use_calculator",
        "output": "use_calculator('12*12') = 144，强制插入",
        "notes": (
            "引擎强制输出 <|output_start|> 144 <|output_end|> 时，",
            "模型自己采样的 token 被丢弃；它在上下文（KV 缓存）里看到结果，",
            "并在 <|output_end|> 之后继续回答。",
            "掩码 0 让强化学习不会在模型没有选择的 token 上训练。",
        ),
    },
}

WIDTH = 560


def _width(item: dict) -> float:
    return 12 + 7.2 * len(item["text"]) if not item["special"] else 12 + 6.4 * len(item["text"])


def tool_stream_figure(lang: str) -> str:
    words = WORDS[lang]
    stream = tool_stream()
    left, right, row_h, box_h = 20.0, WIDTH - 20.0, 78, 26
    placed: list[tuple[dict, float, int, float]] = []
    x, row = left, 0
    for item in stream:
        w = _width(item)
        if x + w > right:
            x, row = left, row + 1
        placed.append((item, x, row, w))
        x += w + 4
    top = 80
    height = top + (row + 1) * row_h + 110
    svg = Svg(WIDTH, int(height), title=str(words["title"]))
    svg.text(left, 30, str(words["heading"]), font_size=15, font_weight="600")
    for n, (key, colour) in enumerate((("sampled", PALETTE[0]), ("forced", PALETTE[2]))):
        lx = left + n * 260
        svg.rect(lx, 44, 16, 14, rx=3, fill=colour, fill_opacity=0.2, stroke=colour)
        svg.text(lx + 22, 56, str(words[key]), font_size=12, fill=MUTED)
    for item, x, r, w in placed:
        y = top + r * row_h
        colour = PALETTE[0] if item["mask"] == 1 else PALETTE[2]
        svg.rect(
            x, y, w, box_h, rx=4, fill=colour, fill_opacity=0.35 if item["special"] else 0.15, stroke=colour
        )
        svg.text(
            x + w / 2,
            y + 17,
            item["text"].replace(" ", "·"),
            text_anchor="middle",
            font_size=11 if item["special"] else 12,
        )
        svg.text(x + w / 2, y + box_h + 13, str(item["mask"]), text_anchor="middle", font_size=10, fill=MUTED)
    for start, end, key, colour in (
        ("<|python_start|>", "<|python_end|>", "block", PALETTE[0]),
        ("<|output_start|>", "<|output_end|>", "output", PALETTE[2]),
    ):
        i0 = next(i for i, p in enumerate(placed) if p[0]["text"] == start)
        i1 = next(i for i, p in enumerate(placed) if p[0]["text"] == end)
        span = placed[i0 : i1 + 1]
        for r in sorted({p[2] for p in span}):
            on_row = [p for p in span if p[2] == r]
            y = top + r * row_h + box_h + 22
            svg.line(on_row[0][1], y, on_row[-1][1] + on_row[-1][3], y, stroke=colour, stroke_width=2)
        _, x0, r0, _ = placed[i0]
        label = str(words[key])
        label_x = min(x0, right - 6.2 * len(label))
        svg.text(label_x, top + r0 * row_h + box_h + 36, label, font_size=11, fill=colour)
    base = top + (row + 1) * row_h + 20
    for n, line in enumerate(words["notes"]):
        svg.text(left, base + 20 * n, line, font_size=12, fill=MUTED)
    return svg.render()
