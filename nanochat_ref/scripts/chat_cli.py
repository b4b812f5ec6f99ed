"""Talk to a chat model in the terminal (nanochat `scripts/chat_cli.py`, commit C).

    python -m nanochat_ref.scripts.chat_cli                     # interactive, sft model
    python -m nanochat_ref.scripts.chat_cli -i rl -p "What is 3+4?"   # one-shot

Design choices: the prompt is built exactly as in `chat_web.py` (BOS, role-wrapped turns, `<|assistant_start|>`);
the reply streams token by token through the `Engine` (so the calculator tool works); `quit`/`exit` ends the
session and `clear` starts over; replies are capped at 256 tokens, and the CLI closes a capped reply with
`<|assistant_end|>` itself so the conversation stays well formed.
"""

from __future__ import annotations

import argparse

from ..common import autocast_ctx, autodetect_device_type, compute_init


def main(argv: list[str] | None = None) -> None:
    from ..checkpoint_manager import load_model
    from ..engine import Engine

    p = argparse.ArgumentParser(description="Chat with the model")
    p.add_argument("-i", "--source", type=str, default="sft", help="which model: sft|mid|rl")
    p.add_argument("-g", "--model-tag", type=str, default=None, help="model tag to load")
    p.add_argument("-s", "--step", type=int, default=None, help="checkpoint step to load")
    p.add_argument("-p", "--prompt", type=str, default="", help="one-shot mode: answer this prompt and exit")
    p.add_argument("-t", "--temperature", type=float, default=0.6, help="sampling temperature")
    p.add_argument("-k", "--top-k", type=int, default=50, help="top-k sampling (0: off)")
    p.add_argument("--device-type", type=str, default="", help="cuda|cpu|mps (empty: autodetect)")
    p.add_argument(
        "-d", "--dtype", type=str, default="bfloat16", choices=["float32", "bfloat16"], help="dtype"
    )
    args = p.parse_args(argv)

    device_type = args.device_type or autodetect_device_type()
    _, _, _, _, device = compute_init(device_type)
    model, tokenizer, _ = load_model(
        args.source, device, phase="eval", model_tag=args.model_tag, step=args.step
    )
    engine = Engine(model, tokenizer)
    special = tokenizer.encode_special
    bos = tokenizer.get_bos_token_id()
    user_start, user_end = special("<|user_start|>"), special("<|user_end|>")
    assistant_start, assistant_end = special("<|assistant_start|>"), special("<|assistant_end|>")

    print("\nnanochat interactive mode\n" + "-" * 50)
    print("Type 'quit' or 'exit' to end the conversation, 'clear' to start a new one\n" + "-" * 50)
    conversation_tokens = [bos]
    while True:
        if args.prompt:
            user_input = args.prompt
        else:
            try:
                user_input = input("\nUser: ").strip()
            except (EOFError, KeyboardInterrupt):
                print("\nGoodbye!")
                break
        if user_input.lower() in ("quit", "exit"):
            print("Goodbye!")
            break
        if user_input.lower() == "clear":
            conversation_tokens = [bos]
            print("Conversation cleared.")
            continue
        if not user_input:
            continue
        conversation_tokens += [user_start, *tokenizer.encode(user_input), user_end, assistant_start]
        response_tokens = []
        print("\nAssistant: ", end="", flush=True)
        with autocast_ctx(device_type):
            for token_column, _ in engine.generate(
                conversation_tokens, num_samples=1, max_tokens=256, temperature=args.temperature,
                top_k=args.top_k or None,
            ):  # fmt: skip
                token = token_column[0]
                response_tokens.append(token)
                if token in (assistant_end, bos):
                    break
                print(tokenizer.decode([token]), end="", flush=True)
        print()
        if response_tokens[-1] != assistant_end:
            response_tokens.append(assistant_end)  # a capped reply still closes the turn
        conversation_tokens += response_tokens
        if args.prompt:
            break


if __name__ == "__main__":
    main()
