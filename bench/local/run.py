"""bench/local: LoRA on the tiny model through the local provider's real path (detached training process).

Measures the training time of N steps on 200 "ticket -> label" chats (from the training process's
own clock, so process start and model loading are reported apart) and the held-out exact-match
accuracy of the base model and of base + adapter. Needs the `local` extra; downloads nothing.
Usage: HF_HUB_OFFLINE=1 python bench/local/run.py [--steps 300] [--threads 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--eval", type=int, default=60, help="held-out examples to score")
    args = parser.parse_args()

    from tuneops.examples import tickets
    from tuneops.provider import CreateRequest, Hyperparameters, ProviderConfig
    from tuneops.providers.local import LocalProvider
    from tuneops.providers.local.tiny import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="tuneops-bench-local-"))
    base = build_tiny_model(work / "tiny-chat")
    seen: set[str] = set()
    chats = {name: [{"messages": t["messages"][1:]} for t in tickets(n, seed=seed, held_out=held, seen=seen)]
             for name, n, seed, held in (("train", 200, 1, False), ("valid", 30, 2, False),
                                         ("eval", args.eval, 3, True))}
    options = {"base_model_dir": str(base), "jobs_dir": str(work / "local"), "threads": args.threads,
               "modules_to_save": ["lm_head", "embed_tokens"], "lora_dropout": 0.0, "max_steps": args.steps,
               "eval_every": max(1, args.steps // 10)}
    provider = LocalProvider(ProviderConfig(options=options))
    uploads = []
    for name in ("train", "valid"):
        data = b"".join(provider.prepare(chats[name], "sft"))
        path = work / f"{name}.jsonl"
        path.write_bytes(data)
        uploads.append(provider.upload(path, sha256=hashlib.sha256(data).hexdigest()))
    request = CreateRequest("bench", "tiny-chat", "sft", uploads[0], uploads[1],
                            Hyperparameters(batch_size=8, learning_rate=3e-3, seed=0), "bench-local", options=options)
    started = time.perf_counter()
    job = provider.create(request)
    while not job.status.terminal:
        time.sleep(0.2)
        job = provider.get(job.provider_job_id)
    wall = time.perf_counter() - started
    assert job.model_id, job.error_message
    status = job.raw
    print(f"{args.steps} LoRA steps, 200 examples, {args.threads} thread(s): training loop {status['seconds']:.1f} s "
          f"({args.steps / status['seconds']:.0f} steps/s); submit to succeeded {wall:.1f} s (process start, "
          "imports, model load)")

    def accuracy(model: str) -> float:
        hits = sum(provider.infer(model, c["messages"][:-1], max_tokens=12).text == c["messages"][-1]["content"]
                   for c in chats["eval"])
        return hits / len(chats["eval"])

    t = time.perf_counter()
    base_acc, tuned_acc = accuracy("tiny-chat"), accuracy(job.model_id)
    print(f"held-out exact match on {args.eval}: base {base_acc:.3f}, base + adapter {tuned_acc:.3f} "
          f"({time.perf_counter() - t:.1f} s for both evals)")
    print(json.dumps({"steps": args.steps, "train_seconds": status["seconds"], "wall_seconds": round(wall, 2),
                      "base_accuracy": base_acc, "adapter_accuracy": tuned_acc}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
