"""How a local model's speed grows with CPU threads: prompt reading and writing, tokens/s.

Reads a fixed prompt of about ``--prompt-tokens`` tokens (demo handbook text) from an
empty cache, then writes ``--new-tokens`` tokens greedily, with 1, 2, ... threads up to
``--threads``. Reading the prompt is most of the time to the first word; if it grows
about in proportion to the threads, a machine with more cores cuts that time in
proportion, which is what the README's "at what core count" estimate rests on. Usage:
    python bench/llm_threads.py --model qwen2.5-coder-1.5b-instruct [--threads 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llama_cpp import Llama

from attest.generation.models import MODELS, resolve

TEXT = Path(__file__).resolve().parents[1] / "attest/demo_kb/annual_leave_and_holidays.txt"


def measure(path: Path, threads: int, prompt_tokens: int, new_tokens: int) -> dict[str, Any]:
    llama = Llama(model_path=str(path), n_ctx=2048, n_threads=threads, seed=0, verbose=False)
    words = TEXT.read_text(encoding="utf-8")
    tokens = llama.tokenize(words.encode("utf-8"))
    while len(tokens) < prompt_tokens:
        tokens += tokens
    tokens = tokens[:prompt_tokens]
    llama.reset()
    began = time.perf_counter()
    llama.eval(tokens)
    read_s = time.perf_counter() - began
    began = time.perf_counter()
    written = 0
    for _token in llama.generate(tokens, temp=0.0):  # the prompt is cached: only new tokens are computed
        written += 1
        if written >= new_tokens:
            break
    write_s = time.perf_counter() - began
    return {
        "threads": threads,
        "prompt_tokens": prompt_tokens,
        "read_tokens_per_s": round(prompt_tokens / read_s, 1),
        "write_tokens_per_s": round(written / write_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct", help=", ".join(MODELS))
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--prompt-tokens", type=int, default=700)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    path = resolve(args.model)
    rows = [measure(path, t, args.prompt_tokens, args.new_tokens) for t in range(1, args.threads + 1)]
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "model": args.model,
        "cores": os.cpu_count(),
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for row in rows:
            print(
                f"{args.model} threads={row['threads']}: reads {row['read_tokens_per_s']} tokens/s, "
                f"writes {row['write_tokens_per_s']} tokens/s"
            )


if __name__ == "__main__":
    main()
