"""Seeded chat conversations for the shipped chat model's own domains, and its frozen evaluation set.

The shipped chat model (`checkpoints/chat/`) is meant to chat sensibly about four things only: two-number
arithmetic, counting a letter in a word, who it is, and politely declining everything else, in English and Chinese.
nanochat teaches its identity, spelling and calculator behaviours with synthetic conversations in many phrasings;
this file is that data for our offline setting.

Design choices:

- **Two template families.** `TRAIN` phrasings generate the training conversations (`train_conversation`);
  `EVAL` phrasings, written separately, generate the frozen evaluation set (`eval_problems`, written once to
  `domain_eval.jsonl`). `tests/nanochat_ref/test_chat_domains.py` proves with an n-gram overlap check that no
  evaluation prompt shares a word 5-gram (English) or a 4-character run (Chinese) with the training conversations,
  and that none is a training prompt. Evaluation words for letter counting come from a held-out fifth of the word
  list (`split_words`), and the evaluation's out-of-domain topics are not in the training topics.
- **Tool use as nanochat does it.** Arithmetic and letter counting answer with a python part (the Engine's
  calculator evaluates it and forces `<|output_start|>result<|output_end|>`) and then a short sentence that copies
  the result. A letter-counting call copies the word exactly as the user typed it, leading space or quote
  included (`' apple'.count('p')`): the tokenizer splits ` apple` and `'apple` differently, and a tiny model can copy
  tokens but not re-spell a word.
- **Answers in the asker's language**, fixed sentences per category, so that scoring is unambiguous: arithmetic and
  counting are scored on the last number of the text written after the tool output; identity on naming nanochat
  (and Karpathy for who-made-you); refusal on the "tiny model" sentence with no tool call.
- Every function is a pure function of its seed: `train_conversation(random.Random(i))` is row `i`.

CLI: `python -m nanochat_ref.chatdata.domains --write-eval` regenerates `domain_eval.jsonl` (it is committed and
must not change unless the evaluation is deliberately redefined).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from functools import lru_cache
from pathlib import Path

from .generators import load_words

HERE = Path(__file__).resolve().parent
EVAL_PATH = HERE / "domain_eval.jsonl"
CATEGORIES = ("arithmetic", "letters", "identity", "refusal")
LANGS = ("en", "zh")
EVAL_PER_CATEGORY_AND_LANG = 200

# ----------------------------------------------------------------------------------------------------------------
# Replies (shared by both families: they are what the model should say, not how the user asks)

REPLY = {
    "answer": {"en": "The answer is {r}.", "zh": "答案是 {r}。"},
    "letters": {"en": "The letter {l} appears {n} {times}.", "zh": "字母 {l} 出现了 {n} 次。"},
    "name": {
        "en": "I am nanochat, a tiny chat model. I can do simple arithmetic, count letters in words and tell you "
        "about myself.",
        "zh": "我是 nanochat，一个很小的聊天模型。我会简单的算术、数单词里的字母，也可以介绍我自己。",
    },
    "creator": {
        "en": "I am nanochat. I was built by the learners of nanochat Lab, following Andrej Karpathy's nanochat.",
        "zh": "我是 nanochat，由 nanochat Lab 的学员按照 Andrej Karpathy 的 nanochat 搭建。",
    },
    "abilities": {
        "en": "I am nanochat, a very small model. I can add, subtract and multiply numbers and count letters, "
        "using a calculator.",
        "zh": "我是 nanochat，一个很小的模型。我可以用计算器做加减乘法和数字母。",
    },
    "refusal": {
        "en": "Sorry, I am a tiny model and I can't help with that. I can only do simple arithmetic, count letters "
        "and tell you about myself.",
        "zh": "抱歉，我是一个很小的模型，帮不了这个忙。我只会简单的算术、数字母和介绍我自己。",
    },
    "greeting": {
        "en": "Hello! I am nanochat. Ask me a sum or how many times a letter is in a word.",
        "zh": "你好！我是 nanochat。你可以让我算算术，或者问我一个单词里有几个某个字母。",
    },
    "thanks": {"en": "You are welcome!", "zh": "不客气！"},
}
REFUSAL_MARKERS = {"en": "I am a tiny model", "zh": "我是一个很小的模型"}

# ----------------------------------------------------------------------------------------------------------------
# The training family

NAMES_EN = ["Tom", "Ana", "Li", "Sam", "Mia", "Ravi", "Zoe", "Omar"]
ITEMS_EN = ["apples", "books", "coins", "cards", "pens", "eggs", "stamps", "shells"]
NAMES_ZH = ["小明", "小红", "小华", "老王", "妈妈", "阿杰"]
ITEMS_ZH = ["苹果", "本书", "枚硬币", "张卡片", "支笔", "个鸡蛋"]

TRAIN = {
    "add": {
        "en": [
            "What is {a} + {b}?", "what is {a} plus {b}", "Compute {a} + {b}.", "Please add {a} and {b}.",
            "{a} + {b}", "{a}+{b}=", "{a} + {b} = ?", "Add {a} to {b}.", "What do you get if you add {a} and {b}?",
            "Find the sum of {a} and {b}.", "Can you add {a} and {b} for me?", "Solve {a} + {b}",
            "{a} plus {b} equals what?", "What is the sum of {a} and {b}?", "{name} has {a} {item} and gets {b} "
            "more. How many {item} does {name} have now?", "I had {a} {item} and found {b} more. How many now?",
            "Please compute {a}+{b}", "Work out {a} + {b} for me.", "what's {a}+{b}", "Add up {a} and {b}, please",
        ],
        "zh": [
            "{a}加{b}等于多少？", "计算 {a} + {b}", "请算一下{a}加{b}。", "{a}和{b}的和是多少？", "{a}+{b}=?",
            "{name}有{a}{item}，又得到{b}{item}，现在一共有多少？", "{a} 加 {b} 是几", "帮忙算 {a}+{b}",
            "请问{a}加{b}等于几？", "把{a}和{b}加起来",
        ],
    },
    "sub": {
        "en": [
            "What is {a} - {b}?", "what is {a} minus {b}", "Compute {a} - {b}.", "Please subtract {b} from {a}.",
            "{a} - {b}", "{a}-{b}=", "{a} - {b} = ?", "Take {b} away from {a}.", "What is {a} take away {b}?",
            "Find the difference between {a} and {b}.", "Can you subtract {b} from {a} for me?",
            "Solve {a} - {b}", "{a} minus {b} equals what?", "{name} had {a} {item} and gave away {b}. How many "
            "{item} are left?", "I had {a} {item} and lost {b}. How many are left?", "Please compute {a}-{b}",
            "Work out {a} - {b} for me.", "what's {a}-{b}",
        ],
        "zh": [
            "{a}减{b}等于多少？", "计算 {a} - {b}", "请算一下{a}减{b}。", "{a}和{b}的差是多少？", "{a}-{b}=?",
            "{name}有{a}{item}，送出了{b}{item}，还剩多少？", "{a} 减 {b} 是几", "帮忙算 {a}-{b}",
            "请问{a}减{b}等于几？", "从{a}里减去{b}",
        ],
    },
    "mul": {
        "en": [
            "What is {a} * {b}?", "what is {a} times {b}", "Compute {a} * {b}.", "Please multiply {a} by {b}.",
            "{a} * {b}", "{a}*{b}=", "{a} x {b} = ?", "Multiply {a} and {b}.", "What is {a} multiplied by {b}?",
            "Find the product of {a} and {b}.", "Can you multiply {a} by {b} for me?", "Solve {a} * {b}",
            "{a} times {b} equals what?", "{name} buys {a} bags with {b} {item} in each bag. How many {item} is "
            "that?", "Please compute {a}*{b}", "Work out {a} * {b} for me.", "what's {a}*{b}",
        ],
        "zh": [
            "{a}乘{b}等于多少？", "计算 {a} * {b}", "请算一下{a}乘以{b}。", "{a}和{b}的积是多少？", "{a}*{b}=?",
            "{name}买了{a}袋，每袋{b}{item}，一共多少？", "{a} 乘 {b} 是几", "帮忙算 {a}*{b}",
            "请问{a}乘{b}等于几？", "{a}x{b}=?",
        ],
    },
    "letters": {
        "en": [
            "How many {L} are in {W}?", "how many {L}'s in {W}", "Count the {L}'s in {W}.",
            "How many times does the letter {L} appear in {W}?", "Count how many {L} there are in the word {W}",
            "How many {L} does the word {W} have?", "Number of {L} in {W}?", "how many letter {L} in {W}",
            "Please count the letter {L} in {W}.", "Can you count the {L}'s in the word {W}?",
            "How often does {L} occur in {W}?", "In {W}, count the {L}'s.",
        ],
        "zh": [
            "单词 {W} 里有几个 {L}？", "{W} 中有多少个字母 {L}？", "数一数 {W} 里的 {L}", "请数一下单词 {W} 中的字母 {L}。",
            "字母 {L} 在 {W} 里出现几次？", "{W} 这个词有几个 {L}",
        ],
    },
    "name": {
        "en": ["Who are you?", "what is your name", "What are you?", "Tell me about yourself.",
               "Introduce yourself.", "What should I call you?", "are you chatgpt?", "What model are you?",
               "Tell me your name.", "Do you have a name?", "Are you a bot?", "Are you human?", "Are you an AI?",
               "who am i chatting with", "What is this chatbot?", "Hi, who are you?", "What are you called?",
               "Are you a real person?", "Which AI is this?", "Hello, what's your name?"],
        "zh": ["你是谁？", "你叫什么名字", "你是什么？", "介绍一下你自己。", "你是ChatGPT吗？", "你是什么模型？",
               "你叫啥？", "你是机器人吗？", "你是真人吗？", "你有名字吗？", "这是什么聊天机器人？", "嗨，你是谁？"],
    },
    "creator": {
        "en": ["Who made you?", "who created you", "Who trained you?", "Who is your creator?",
               "Which company built you?", "Who wrote your code?", "Who designed you?", "who are your makers",
               "Who is behind this chatbot?", "Which team made you?", "Who invented you?", "Where did you come from?"],
        "zh": ["谁创造了你？", "你是谁做的", "谁训练了你？", "你的作者是谁？", "谁设计了你？", "你是哪个团队做的？",
               "你从哪里来？", "谁写了你的代码？"],
    },
    "abilities": {
        "en": ["What can you do?", "How can you help me?", "What are you good at?", "Can you do math?"],
        "zh": ["你能做什么？", "你会什么", "你擅长什么？", "你会算数学吗？"],
    },
    "refusal": {
        "en": ["{task}", "Please {task_l}", "Can you {task_l}?", "I need you to {task_l}.", "Hey, {task_l}",
               "Could you help me {task_l}?"],
        "zh": ["{task}", "请{task_l}。", "你能{task_l}吗？", "帮我{task_l}。"],
    },
    "greeting": {
        "en": ["hi", "Hello!", "hey there", "Hi nanochat", "good morning", "hello?"],
        "zh": ["你好", "您好！", "嗨", "早上好", "哈喽"],
    },
    "thanks": {"en": ["Thanks!", "thank you", "great, thanks"], "zh": ["谢谢", "谢谢你！", "多谢"]},
}  # fmt: skip

TRAIN_TASKS = {
    "en": [
        "Write a poem about the sea.", "What is the capital of France?", "Translate hello into Spanish.",
        "Tell me a joke.", "What is the weather today?", "Who won the world cup?", "Write Python code to sort a "
        "list.", "Explain quantum physics.", "What is a cat?", "Recommend a good movie.", "Summarize this "
        "article for me.", "What is the meaning of life?", "Write an essay about dogs.", "How do I cook rice?",
        "What is the tallest mountain?", "Give me stock tips.", "Play chess with me.", "Write a song about love.",
        "Who is the president of the USA?", "How does the internet work?", "What time is it?", "Tell me a story.",
        "Fix my computer.", "Describe the moon.", "What is photosynthesis?", "Book a flight to Paris.",
        "Write a letter to my boss.", "Explain how cars work.", "What is the best programming language?",
        "Draw a picture of a horse.",
    ],
    "zh": [
        "写一首关于大海的诗。", "法国的首都是哪里？", "把你好翻译成英文。", "讲个笑话。", "今天天气怎么样？",
        "谁赢得了世界杯？", "写一段排序的代码。", "解释一下量子物理。", "猫是什么？", "推荐一部好电影。",
        "总结一下这篇文章。", "人生的意义是什么？", "写一篇关于狗的作文。", "怎么煮米饭？", "最高的山是哪座？",
        "给我一些股票建议。", "陪我下象棋。", "写一首情歌。", "现在几点了？", "讲一个故事。", "帮我修电脑。",
        "描述一下月亮。", "什么是光合作用？", "帮我订一张去北京的机票。",
    ],
}  # fmt: skip

# ----------------------------------------------------------------------------------------------------------------
# The evaluation family (never used for training data)

EVAL = {
    "add": {
        "en": [
            "Could you tell me the total of {a} and {b}?", "Calculate {a} + {b} please.",
            "If I have {a} {item} and someone gives me {b} more, how many {item} do I have?",
            "Sum up {a} and {b}.", "how much is {a} + {b}", "Tell me the result of {a} + {b}.",
            "What does {a} + {b} come to?", "quick one: {a} plus {b}?", "Increase {a} by {b}. What number is it?",
            "I need {a} + {b} worked out.",
        ],
        "zh": [
            "{a}加上{b}得几？", "帮我算算{a}+{b}", "{a}与{b}相加得多少？", "求{a}与{b}之和。",
            "我有{a}本书，朋友又送我{b}本，我总共有几本书？", "{a}再加{b}呢？", "算一算：{a} + {b}",
            "{a} 加 {b}，结果是？",
        ],
    },
    "sub": {
        "en": [
            "Could you tell me what remains when {b} is taken from {a}?", "Calculate {a} - {b} please.",
            "If I have {a} {item} and eat {b} of them, how many {item} remain?", "Subtract: {a} minus {b}.",
            "how much is {a} - {b}", "Tell me the result of {a} - {b}.", "What does {a} - {b} come to?",
            "quick one: {a} minus {b}?", "Decrease {a} by {b}. What number is it?", "I need {a} - {b} worked out.",
        ],
        "zh": [
            "{a}减去{b}得几？", "帮我算算{a}-{b}", "{a}与{b}相减得多少？", "求{a}与{b}之差。",
            "我有{a}块糖，吃掉{b}块，还有几块糖？", "{a}再减{b}呢？", "算一算：{a} - {b}", "{a} 减 {b}，结果是？",
        ],
    },
    "mul": {
        "en": [
            "Could you tell me the product of {a} by {b}?", "Calculate {a} * {b} please.",
            "If each of {a} boxes holds {b} {item}, how many {item} are there in total?", "Multiply: {a} times {b}.",
            "how much is {a} * {b}", "Tell me the result of {a} * {b}.", "What does {a} * {b} come to?",
            "quick one: {a} times {b}?", "I need {a} * {b} worked out.",
        ],
        "zh": [
            "{a}乘以{b}得几？", "帮我算算{a}*{b}", "{a}与{b}相乘得多少？", "求{a}与{b}之积。",
            "有{a}个盒子，每个装{b}个球，总共几个球？", "{a}再乘{b}呢？", "算一算：{a} * {b}",
            "{a} 乘 {b}，结果是？",
        ],
    },
    "letters": {
        "en": [
            "In the word {W}, how many {L}'s are there?", "What is the count of letter {L} inside {W}?",
            "Tell me how often {L} shows up in {W}.", "Does {W} contain the letter {L}? How many times?",
            "I wonder how many {L}'s the word {W} has.", "Could you count every {L} in {W}?",
            "Look at {W} and tell me the number of {L}'s.", "Spot the {L}'s in {W}: how many?",
        ],
        "zh": [
            "在 {W} 这个单词中，字母 {L} 有几个？", "{W} 里面一共出现了几次 {L}？", "告诉我 {W} 含几个 {L}。",
            "统计 {W} 中 {L} 的个数", "请问 {W} 包含几个 {L}？",
        ],
    },
    "name": {
        "en": ["May I know your name?", "Whom am I talking to?", "Identify yourself, please.",
               "Are you a person or a program?", "What kind of assistant are you?", "Say who you are."],
        "zh": ["请问怎么称呼你？", "我在跟谁聊天？", "你到底是什么程序？", "报上名来。", "你是人还是机器？"],
    },
    "creator": {
        "en": ["Who built you?", "Where do you come from, who developed you?", "Who is responsible for making you?",
               "Which people programmed you?"],
        "zh": ["是谁开发了你？", "你是由谁做出来的？", "你的开发者是谁？", "谁编写了你？"],
    },
    "refusal": {
        "en": ["{task}", "I'd like you to {task_l}", "Would you {task_l}?", "Hi! Could you {task_l}?",
               "Your job now: {task_l}"],
        "zh": ["{task}", "麻烦你{task_l}。", "可以{task_l}吗？", "现在{task_l}。"],
    },
}  # fmt: skip

EVAL_TASKS = {
    "en": [
        "Name three rivers in Africa.", "Compose a haiku about autumn.", "Who painted the Mona Lisa?",
        "Convert this text to French.", "Plan a trip to Japan.", "Explain black holes simply.",
        "Write a short biography of Einstein.", "Suggest names for my puppy.", "Debug my JavaScript.",
        "Predict tomorrow's football score.", "Describe the history of Rome.", "Give me a recipe for pancakes.",
        "List the planets of the solar system.", "Teach me to play guitar.", "Review my resume.",
        "Explain how vaccines work.", "Write a limerick about a frog.", "Which is the largest ocean?",
        "Design a logo for my shop.", "Tell me about the French revolution.",
    ],
    "zh": [
        "列出非洲的三条河流。", "作一首秋天的俳句。", "蒙娜丽莎是谁画的？", "帮我规划一次日本旅行。",
        "用简单的话讲讲黑洞。", "写一篇爱因斯坦的小传。", "给我的小狗起几个名字。", "帮我调试 JavaScript 代码。",
        "预测明天的足球比分。", "讲讲罗马的历史。", "给我一个煎饼的做法。", "列出太阳系的行星。", "教我弹吉他。",
        "修改一下我的简历。", "解释疫苗的原理。", "哪个大洋最大？", "为我的小店设计一个标志。", "说说法国大革命。",
    ],
}  # fmt: skip

EVAL_ITEMS_EN = ["pencils", "candies", "balloons", "stickers", "marbles", "buttons"]

# ----------------------------------------------------------------------------------------------------------------
# Shared helpers

OPS = {"add": ("+", lambda a, b: a + b), "sub": ("-", lambda a, b: a - b), "mul": ("*", lambda a, b: a * b)}
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=1)
def split_words() -> tuple[list[str], list[str]]:
    """(training words, held-out evaluation words): every fifth word of the shipped list is held out."""
    words = load_words()
    return [w for i, w in enumerate(words) if i % 5 != 4], [w for i, w in enumerate(words) if i % 5 == 4]


def _draw_numbers(rng: random.Random, op: str, small: bool) -> tuple[int, int]:
    if op == "mul":
        hi = 20 if small or rng.random() < 0.8 else 99
        return rng.randint(0, hi), rng.randint(0, 12 if hi == 20 else 20)
    hi = 100 if small or rng.random() < 0.7 else 999
    a, b = rng.randint(0, hi), rng.randint(0, hi)
    if op == "sub" and (small or rng.random() < 0.9):
        a, b = max(a, b), min(a, b)
    return a, b


def _draw_letter_count(rng: random.Random, words: list[str]) -> tuple[str, str]:
    """A word and a letter whose true count is uniform over 0-3 (as `BalancedSpellingBee` draws it)."""
    count = rng.randint(0, 3)
    while True:
        word = rng.choice(words)
        letters = [c for c in LETTERS if word.count(c) == count]
        if letters:
            return word, rng.choice(letters)


def _quote_word(rng: random.Random, word: str) -> tuple[str, str]:
    """(how the word appears after a space in the prompt, the python string literal that copies it)."""
    style = rng.choice(["bare", "bare", "single", "double"])
    if style == "bare":  # the prompt's token run is " word": the literal keeps the space
        return word, f"' {word}'"
    if style == "single":
        return f"'{word}'", f"'{word}'"
    return f'"{word}"', f'"{word}"'


def _quote_letter(rng: random.Random, letter: str) -> str:
    return rng.choice([letter, letter, f"'{letter}'", f'"{letter}"'])


def _fill(template: str, **kw) -> str:
    return template.format(**kw)


def _tool_reply(expr: str, result: str, sentence: str) -> list[dict]:
    return [
        {"type": "python", "text": expr},
        {"type": "python_output", "text": result},
        {"type": "text", "text": sentence},
    ]


def _arith_turn(
    rng: random.Random, family: dict, lang: str, small: bool, items, names
) -> tuple[str, list, int]:
    op = rng.choice(list(OPS))
    sym, fn = OPS[op]
    a, b = _draw_numbers(rng, op, small)
    template = rng.choice(family[op][lang])
    user = _fill(template, a=a, b=b, name=rng.choice(names), item=rng.choice(items))
    if lang == "en" and rng.random() < 0.2 and family is TRAIN:
        user = user.lower()
    result = fn(a, b)
    expr = f"{a} {sym} {b}" if rng.random() < 0.5 else f"{a}{sym}{b}"
    return user, _tool_reply(expr, str(result), REPLY["answer"][lang].format(r=result)), result


def _letters_turn(rng: random.Random, family: dict, lang: str, words: list[str]) -> tuple[str, list, int]:
    word, letter = _draw_letter_count(rng, words)
    shown, literal = _quote_word(rng, word)
    user = _fill(rng.choice(family["letters"][lang]), W=shown, L=_quote_letter(rng, letter))
    n = word.count(letter)
    sentence = REPLY["letters"][lang].format(l=letter, n=n, times="time" if n == 1 else "times")
    return user, _tool_reply(f"{literal}.count('{letter}')", str(n), sentence), n


def _refusal_user(rng: random.Random, family: dict, tasks: dict, lang: str) -> str:
    task = rng.choice(tasks[lang])
    task_l = task[0].lower() + task[1:].rstrip(".?") if lang == "en" else task.rstrip("。？")
    return _fill(rng.choice(family["refusal"][lang]), task=task, task_l=task_l)


# ----------------------------------------------------------------------------------------------------------------
# Training conversations

#: The share of Chinese turns. The targets are English (Chinese is stated), and a Chinese turn costs about as many
#: tokens as an English one (~50): each point of Chinese is a point less of the fixed token budget for English.
ZH_SHARE = 0.25
TRAIN_KINDS = [
    ("arithmetic", 0.38),
    ("letters", 0.32),
    ("identity", 0.14),
    ("refusal", 0.10),
    ("social", 0.06),
]


def train_turn(rng: random.Random, lang: str, kind: str) -> tuple[str, str | list]:
    """One (user, assistant) pair of the training family."""
    if kind == "arithmetic":
        items, names = (ITEMS_EN, NAMES_EN) if lang == "en" else (ITEMS_ZH, NAMES_ZH)
        user, parts, _ = _arith_turn(rng, TRAIN, lang, small=False, items=items, names=names)
        return user, parts
    if kind == "letters":
        user, parts, _ = _letters_turn(rng, TRAIN, lang, split_words()[0])
        return user, parts
    if kind == "identity":
        topic = rng.choice(["name", "name", "creator", "abilities"])
        return rng.choice(TRAIN[topic][lang]), REPLY[topic][lang]
    if kind == "refusal":
        return _refusal_user(rng, TRAIN, TRAIN_TASKS, lang), REPLY["refusal"][lang]
    topic = rng.choice(["greeting", "thanks"])
    return rng.choice(TRAIN[topic][lang]), REPLY[topic][lang]


def train_conversation(rng: random.Random) -> dict:
    """One training conversation: 1-3 turns, each of a random kind, 25% of them in Chinese."""
    msgs: list[dict] = []
    kinds, weights = zip(*TRAIN_KINDS, strict=True)
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
        lang = "zh" if rng.random() < ZH_SHARE else "en"
        user, reply = train_turn(rng, lang, rng.choices(kinds, weights)[0])
        msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    return {"messages": msgs}


def train_conversations(n: int, seed: int = 0) -> list[dict]:
    """Rows `seed .. seed + n - 1` (row `i` is `train_conversation(random.Random(i))`)."""
    return [train_conversation(random.Random(i)) for i in range(seed, seed + n)]


# ----------------------------------------------------------------------------------------------------------------
# The frozen evaluation set


def eval_problem(rng: random.Random, category: str, lang: str) -> dict:
    """One evaluation problem `{category, lang, prompt, answer}` of the evaluation family."""
    if category == "arithmetic":
        items, names = (EVAL_ITEMS_EN, NAMES_EN) if lang == "en" else (ITEMS_ZH, NAMES_ZH)
        user, _, result = _arith_turn(rng, EVAL, lang, small=True, items=items, names=names)
        return {"category": category, "lang": lang, "prompt": user, "answer": result}
    if category == "letters":
        user, _, n = _letters_turn(rng, EVAL, lang, split_words()[1])
        user = user.replace("''s", "'s").replace("\"'s", '"s')  # 'p''s -> 'p's, "p"'s -> "p"s
        return {"category": category, "lang": lang, "prompt": user, "answer": n}
    if category == "identity":
        topic = rng.choice(["name", "name", "creator"])
        return {"category": category, "lang": lang, "prompt": rng.choice(EVAL[topic][lang]), "answer": topic}
    return {"category": category, "lang": lang, "prompt": _refusal_user(rng, EVAL, EVAL_TASKS, lang),
            "answer": "refusal"}  # fmt: skip


def eval_problems(per_category: int = EVAL_PER_CATEGORY_AND_LANG, seed: int = 1_000_017) -> list[dict]:
    """The evaluation set: `per_category` problems per (category, language); prompts in a group are distinct where
    the family has enough of them (identity questions repeat: there are only a few ways to ask a name)."""
    rng = random.Random(seed)
    rows = []
    for category in CATEGORIES:
        for lang in LANGS:
            seen: set[str] = set()
            group: list[dict] = []
            tries = 0
            while len(group) < per_category:
                row = eval_problem(rng, category, lang)
                tries += 1
                if row["prompt"] in seen and tries < 50 * per_category:
                    continue
                seen.add(row["prompt"])
                group.append(row)
            rows += group
    return rows


def load_eval(path: Path = EVAL_PATH) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ----------------------------------------------------------------------------------------------------------------
# Scoring a reply

NUMBER = re.compile(r"-?\d+")


def final_text(completion: str) -> str:
    """What the model wrote after its last tool output (the whole reply when it used no tool)."""
    text = completion.split("<|output_end|>")[-1]
    return text.split("<|assistant_end|>")[0]


def score(problem: dict, completion: str) -> bool:
    """Whether a decoded completion (special tokens as text) answers `problem` correctly."""
    category, lang, answer = problem["category"], problem["lang"], problem["answer"]
    if category in ("arithmetic", "letters"):
        numbers = NUMBER.findall(final_text(completion))
        return bool(numbers) and int(numbers[-1]) == answer
    if category == "identity":
        ok = "nanochat" in completion
        return ok and ("Karpathy" in completion if answer == "creator" else True)
    return REFUSAL_MARKERS[lang] in completion and "<|python_start|>" not in completion


# ----------------------------------------------------------------------------------------------------------------
# The overlap check (train vs eval)

CJK = re.compile(r"[\u3400-\u9fff]+")
WORD = re.compile(r"[a-z']+|#")


def _normalize(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower())


def ngrams(text: str, n_words: int = 5, n_chars: int = 4) -> set[str]:
    """Word n-grams of the Latin part and character n-grams of each Chinese run of `text` (digits -> `#`)."""
    text = _normalize(text)
    words = WORD.findall(text)
    grams = {" ".join(words[i : i + n_words]) for i in range(len(words) - n_words + 1)}
    for run in CJK.findall(text):
        grams |= {run[i : i + n_chars] for i in range(len(run) - n_chars + 1)}
    return grams


def conversation_texts(conversation: dict) -> list[str]:
    texts = []
    for m in conversation["messages"]:
        content = m["content"]
        texts += [content] if isinstance(content, str) else [p["text"] for p in content]
    return texts


def overlap_report(train_rows: list[dict], problems: list[dict]) -> dict:
    """Which evaluation prompts share an n-gram with, or equal, a user turn or reply of the training rows."""
    train_grams: set[str] = set()
    train_prompts: set[str] = set()
    for row in train_rows:
        for m in row["messages"]:
            if m["role"] == "user":
                train_prompts.add(_normalize(m["content"]).strip())
        for text in conversation_texts(row):
            train_grams |= ngrams(text)
    shared = [
        (p["prompt"], sorted(ngrams(p["prompt"]) & train_grams))
        for p in problems
        if ngrams(p["prompt"]) & train_grams
    ]
    exact = [p["prompt"] for p in problems if _normalize(p["prompt"]).strip() in train_prompts]
    return {"prompts": len(problems), "sharing_ngram": shared, "exact": exact}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The chat model's domain data and frozen evaluation set")
    parser.add_argument("--write-eval", action="store_true", help=f"(re)write {EVAL_PATH.name}")
    parser.add_argument("--check", type=int, default=0, help="overlap check against this many training rows")
    args = parser.parse_args(argv)
    if args.write_eval:
        with open(EVAL_PATH, "w", encoding="utf-8") as f:
            for row in eval_problems():
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"wrote {EVAL_PATH}")
    if args.check:
        report = overlap_report(train_conversations(args.check), load_eval())
        print(f"{report['prompts']} prompts, {len(report['sharing_ngram'])} share an n-gram, "
              f"{len(report['exact'])} equal a training prompt")  # fmt: skip
        for prompt, grams in report["sharing_ngram"][:60]:
            print(f"  {prompt!r} shares {grams}")


if __name__ == "__main__":
    main()
