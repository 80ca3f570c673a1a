"""The training process of one local job: ``python -m tuneops.providers.local.train JOBDIR``.

Started detached by the provider, it owns ``status.json`` from "running" on: it trains a LoRA (or
QLoRA) adapter with transformers + peft on the devices accelerate picks, writes one metrics line per
step, saves the adapter as safetensors and ends "succeeded", "failed" (with its error) or
"cancelled" (SIGTERM, or the job's ``cancel`` file).
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from tuneops.clock import utcnow
from tuneops.providers.local import settings
from tuneops.providers.local.jobs import JobDir, append_jsonl, file_hashes, manifest_sha256
from tuneops.providers.local.status import CANCELLED, FAILED, RUNNING, SUCCEEDED


class Cancelled(Exception):
    """The job was asked to stop."""


class TrainingProcess:
    """One job's training run, step by step, recording as it goes."""

    def __init__(self, job: JobDir):
        self.job = job
        self.config = job.config()
        self.stop = False

    def cancelled(self) -> bool:
        """True once SIGTERM arrived or the cancel file exists."""
        return self.stop or self.job.cancel_file.exists()

    def run(self) -> int:
        """Train, save, record; the exit code of the process."""
        job = self.job
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            if self.cancelled():
                raise Cancelled
            job.set_status(RUNNING, pid=os.getpid(), started_at=utcnow().isoformat())
            job.event(f"training process {os.getpid()} started")
            result = self._train()
        except Cancelled:
            job.event("cancelled; no adapter was kept")
            job.set_status(CANCELLED, finished_at=utcnow().isoformat())
            return 0
        except Exception as exc:  # everything is recorded: the job fails with its last error
            traceback.print_exc()
            message = f"{type(exc).__name__}: {exc}"
            job.event(message, "error")
            job.set_status(FAILED, error=message[:2000], error_code=type(exc).__name__,
                           finished_at=utcnow().isoformat())
            return 1
        job.set_status(SUCCEEDED, finished_at=utcnow().isoformat(), **result)
        job.event(f"succeeded: adapter sha256 {result['adapter']['sha256'][:12]} after {result['steps']} steps")
        return 0

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stop = True

    def _train(self) -> dict[str, Any]:
        import torch
        from accelerate import Accelerator
        from peft import LoraConfig, get_peft_model
        from torch.utils.data import DataLoader

        from tuneops.providers.local import data, loading

        cfg, opts, hp = self.config, self.config["options"], self.config["hyperparameters"]
        torch.set_num_threads(opts["threads"])
        qlora = opts["method"] == "qlora"
        if qlora:
            loading.require_cuda()  # never a silent fallback to plain LoRA
        random.seed(hp["seed"])
        torch.manual_seed(hp["seed"])
        accelerator = Accelerator(cpu=opts["device"] == "cpu")
        if opts["device"] == "cuda" and accelerator.device.type != "cuda":
            raise RuntimeError("options.local.device = \"cuda\" but no CUDA device is available")
        self.job.event(f"loading base model {cfg['base_source']} on {accelerator.device}")
        tokenizer = loading.load_tokenizer(cfg["base_source"])
        model = loading.load_model(cfg["base_source"], qlora=qlora, dtype=opts["dtype"])
        if qlora:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model)
        train_rows = data.encode_records(tokenizer, data.read_jsonl(Path(cfg["training_file"])), opts["max_length"])
        valid_rows = (data.encode_records(tokenizer, data.read_jsonl(Path(cfg["validation_file"])),
                                          opts["max_length"]) if cfg.get("validation_file") else [])
        if not train_rows:
            raise ValueError("no training example has an assistant answer left after max_length")
        lora = LoraConfig(r=opts["lora_r"], lora_alpha=opts["lora_alpha"], lora_dropout=opts["lora_dropout"],
                          target_modules=opts["target_modules"], modules_to_save=opts["modules_to_save"] or None,
                          task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
        pad = tokenizer.pad_token_id

        def collate(rows: list[dict[str, list[int]]]) -> dict[str, Any]:
            width = max(len(r["input_ids"]) for r in rows)
            return {
                "input_ids": torch.tensor([r["input_ids"] + [pad] * (width - len(r["input_ids"])) for r in rows]),
                "attention_mask": torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"]))
                                                for r in rows]),
                "labels": torch.tensor([r["labels"] + [data.IGNORE] * (width - len(r["labels"])) for r in rows]),
            }

        batch = hp["batch_size"]
        loader = DataLoader(train_rows, batch_size=batch, shuffle=True, collate_fn=collate,
                            generator=torch.Generator().manual_seed(hp["seed"]))
        valid = DataLoader(valid_rows, batch_size=batch, collate_fn=collate) if valid_rows else None
        steps = settings.total_steps(len(train_rows), batch, hp["epochs"], opts["max_steps"])
        every = opts["eval_every"] or max(1, steps // 20)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=hp["learning_rate"])
        model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
        if valid is not None:
            valid = accelerator.prepare(valid)
        tokens_per_epoch = sum(len(r["input_ids"]) for r in train_rows)
        self.job.set_status(RUNNING, total_steps=steps, examples=len(train_rows),
                            validation_examples=len(valid_rows))
        self.job.event(f"training {steps} steps on {len(train_rows)} examples "
                       f"({sum(p.numel() for p in model.parameters() if p.requires_grad):,} trainable parameters)")
        step, trained_tokens, started = 0, 0, time.monotonic()
        while step < steps:
            for batch_data in loader:
                if self.cancelled():
                    raise Cancelled
                model.train()
                loss = model(**batch_data).loss
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
                step += 1
                trained_tokens += int(batch_data["attention_mask"].sum())
                point: dict[str, Any] = {"step": step, "train_loss": round(float(loss.detach()), 6)}
                if valid is not None and (step % every == 0 or step == steps):
                    point["valid_loss"] = round(_mean_loss(model, valid, torch), 6)
                append_jsonl(self.job.metrics_file, {**point, "at": utcnow().isoformat()})
                if step % every == 0:
                    self.job.set_status(RUNNING, step=step)
                if step >= steps:
                    break
        if self.cancelled():
            raise Cancelled
        staging = self.job.path / ".adapter.tmp"
        accelerator.unwrap_model(model).save_pretrained(staging, safe_serialization=True)
        os.replace(staging, self.job.adapter_dir)
        hashes = file_hashes(self.job.adapter_dir)
        return {"step": step, "steps": step, "trained_tokens": trained_tokens,
                "tokens_per_epoch": tokens_per_epoch, "seconds": round(time.monotonic() - started, 3),
                "adapter": {"dir": str(self.job.adapter_dir), "files": hashes, "sha256": manifest_sha256(hashes)}}


def _mean_loss(model: Any, loader: Any, torch: Any) -> float:
    """Mean loss over the validation batches (assistant tokens only, as in training)."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            total += float(model(**batch).loss)
            count += 1
    model.train()
    return total / max(1, count)


def main(argv: list[str] | None = None) -> int:
    """Entry point: train the job in the directory given as the only argument."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not JobDir(Path(args[0])).exists():
        print("usage: python -m tuneops.providers.local.train JOBDIR (a directory with job.json)", file=sys.stderr)
        return 2
    from tuneops.providers.local import loading

    job = JobDir(Path(args[0]).resolve())
    loading.go_private(bool(job.config().get("options", {}).get("allow_hub_download")))
    return TrainingProcess(job).run()


if __name__ == "__main__":
    sys.exit(main())
