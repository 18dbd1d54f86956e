"""The training loop of Sec. 7.1: SGD + Nesterov, step-wise lr drops, resumable at any step.

A run is a pure function of its :class:`TrainConfig`: batches come from the data API, which is
deterministic in ``(seed, epoch)`` and can start at any step of an epoch, and every other piece
of state (weights, momentum buffers, lr schedule, loss scaler, RNGs, the running sums of the
current epoch) is in the checkpoint. So a run killed at any moment and resumed with ``resume``
continues exactly where its last checkpoint stood; in deterministic CPU mode the final weights
equal those of an uninterrupted run bit for bit.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from optnet_nets.models.layers import init_weights
from optnet_nets.train import checkpoint as ckpt
from optnet_nets.train.config import DIVERGED_NAME, TrainConfig
from optnet_nets.train.distributed import DistContext, all_reduce_sum, barrier
from optnet_nets.train.metrics import MetricsLog, epoch_line
from optnet_nets.train.precision import resolve_precision
from optnet_nets.train.prepare import (
    default_dataset,
    default_model,
    lr_factor,
    progress_bar,
    seed_everything,
    set_deterministic,
)
from optnet_theory.atomic import write_json
from optnet_theory.errors import OptnetError


class TrainingDiverged(OptnetError):
    """The loss, weights or optimizer state became NaN or infinite; only finite checkpoints
    are ever written, so the run's checkpoint (if any) is its last finite state."""


class Trainer:
    """One run: set up from a config (and optionally a given dataset/model), then :meth:`fit`."""

    def __init__(
        self,
        config: TrainConfig,
        ctx: DistContext,
        *,
        dataset: Any = None,
        model: nn.Module | None = None,
    ):
        config.validate()
        self.config = config
        self.ctx = ctx
        self.out = Path(config.out)
        self.checkpoint_path = self.out / ckpt.CHECKPOINT_NAME
        if config.batch_size % ctx.world_size:
            raise OptnetError(
                f"batch size {config.batch_size} must be divisible by the world size "
                f"{ctx.world_size} (it is the global batch)"
            )
        self.rank_batch = config.batch_size // ctx.world_size
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        set_deterministic(config.deterministic)
        seed_everything(config.seed)
        self.dataset = dataset if dataset is not None else default_dataset(config, ctx.device)
        steps = self.dataset.steps_per_epoch(self.rank_batch, world_size=ctx.world_size)
        if steps < 1:
            raise OptnetError(
                f"an epoch has no step: {self.dataset.train_size} training images and "
                f"global batch {config.batch_size}; lower --batch-size"
            )
        self.steps_per_epoch = steps
        raw = model if model is not None else default_model(config, self.dataset)
        if config.init == "paper":
            init_weights(raw)  # Sec. 7.1: He for convolutions, Xavier for the classifier
        self.precision = resolve_precision(config.amp, config.channels_last, ctx.device, raw)
        self.config = config = dataclasses.replace(  # the config.json records what is used
            config, amp_used=self.precision.amp, channels_last_used=self.precision.channels_last
        )
        raw = self.precision.format_model(raw.to(ctx.device))
        self.model = raw
        self.optimizer = torch.optim.SGD(
            raw.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(step, self.steps_per_epoch, config)
        )
        self.scaler = torch.amp.GradScaler(
            ctx.device.type, enabled=self.precision.dtype is torch.float16
        )
        self.net: nn.Module = raw
        if ctx.distributed:
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(raw, device_ids=ids)
        if config.compile:
            self.net = torch.compile(self.net)  # type: ignore[assignment]
        # run state (restored from a checkpoint on resume)
        self.epoch = 0
        self.step_in_epoch = 0
        self.global_step = 0
        self.train_sums = torch.zeros(3, dtype=torch.float64)  # loss*n, correct, n
        self.history: list[dict[str, Any]] = []
        self.elapsed_s = 0.0
        self.resumed_from: int | None = None
        self.saved_step: int | None = None  # step of this run's checkpoint in OUT, if any

    # ----------------------------------------------------------------- checkpoints
    def state(self) -> dict[str, Any]:
        """Everything needed to continue the run, as tensors and plain types."""
        return {
            "format": ckpt.FORMAT_VERSION,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": ckpt.rng_state(),
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "train_sums": self.train_sums.cpu(),
            "history": self.history,
            "elapsed_s": self.elapsed_s,
            "config": self.config.to_dict(),
        }

    def save_checkpoint(self) -> None:
        """Atomic write from rank 0 of a state checked finite; other ranks wait for the save."""
        self.check_state_finite()
        if self.ctx.is_main:
            ckpt.save_atomic(self.state(), self.checkpoint_path)
        self.saved_step = self.global_step
        barrier(self.ctx)

    def check_state_finite(self) -> None:
        """Raise :class:`TrainingDiverged` if a weight or optimizer buffer is NaN or infinite."""
        bad = ckpt.non_finite(
            {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()["state"]}
        )
        flag = torch.tensor([float(len(bad))], dtype=torch.float64, device=self.ctx.device)
        if all_reduce_sum(flag, self.ctx).item() > 0:
            where = ", ".join(bad[:3]) + (" ..." if len(bad) > 3 else "") if bad else "another rank"
            raise TrainingDiverged(
                f"non-finite weights or optimizer state ({where}) after step {self.global_step} "
                f"(epoch {self.epoch + 1}); stopped without saving them. {self._advice()}"
            )

    def _advice(self) -> str:
        return ckpt.diverged_advice(self.config.lr, self.out, self.checkpoint_path,
                                    self.saved_step)

    def resume(self, *, missing_ok: bool = False) -> bool:
        """Restore the run from ``OUT/checkpoint.pt``; True when restored.

        ``OUT`` is this config's ``out``: the run directory is the truth, whatever ``out`` the
        checkpoint recorded, so a copied or moved run resumes where it now is. A missing
        checkpoint is an error unless ``missing_ok`` (then the run starts afresh).
        """
        state = ckpt.load_for_resume(self.checkpoint_path, self.config.to_dict(), missing_ok)
        if state is None:
            return False
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self._apply_hyperparameters()
        self.scaler.load_state_dict(state["scaler"])
        ckpt.set_rng_state(state["rng"])
        self.epoch = int(state["epoch"])
        self.step_in_epoch = int(state["step_in_epoch"])
        self.global_step = int(state["global_step"])
        self.train_sums = state["train_sums"].to(torch.float64)
        if not self.ctx.is_main:  # rank 0 saved the global sums of the epoch so far
            self.train_sums.zero_()
        self.history = list(state["history"])
        self.elapsed_s = float(state["elapsed_s"])
        self.resumed_from = self.saved_step = self.global_step
        return True

    def _apply_hyperparameters(self) -> None:
        """This config's lr, momentum and weight decay over those a loaded optimizer state
        brought along, so ``--resume --lr X`` (e.g. after a divergence) really uses X."""
        cfg = self.config
        self.scheduler.base_lrs = [cfg.lr for _ in self.optimizer.param_groups]
        lr = cfg.lr * lr_factor(self.scheduler.last_epoch, self.steps_per_epoch, cfg)
        for group in self.optimizer.param_groups:
            group.update(initial_lr=cfg.lr, lr=lr, momentum=cfg.momentum,
                         nesterov=cfg.nesterov, weight_decay=cfg.weight_decay)

    # ----------------------------------------------------------------- steps
    def _prepare(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[Any, Any]:
        images = images.to(self.ctx.device, non_blocking=True)
        labels = labels.to(self.ctx.device, non_blocking=True)
        return self.precision.format_images(images), labels

    def _check_finite(self, bad: torch.Tensor, first: int) -> None:
        flag = all_reduce_sum(bad.to(torch.float64).reshape(1), self.ctx)
        if flag.item() > 0:
            raise TrainingDiverged(
                f"non-finite training loss in epoch {self.epoch + 1}, steps {first + 1}.."
                f"{self.step_in_epoch} of {self.steps_per_epoch}; stopped. {self._advice()}"
            )

    def train_epoch(self) -> float:
        """Run the rest of the current epoch; returns the images/s of this pass."""
        cfg, ctx = self.config, self.ctx
        self.net.train()
        device = ctx.device
        sums = self.train_sums.to(device)
        bad = torch.zeros((), dtype=torch.bool, device=device)
        check_every = 1 if device.type == "cpu" and not ctx.distributed else 25
        last_checked = self.step_in_epoch
        start_step = self.step_in_epoch
        batches: Iterator[tuple[torch.Tensor, torch.Tensor]] = self.dataset.train_batches(
            self.rank_batch,
            epoch=self.epoch,
            seed=cfg.seed,
            augment=cfg.augment,
            rank=ctx.rank,
            world_size=ctx.world_size,
            start_step=start_step,
        )
        bar = progress_bar(cfg, ctx, self.epoch, self.steps_per_epoch, start_step)
        train_s = 0.0
        mark = started = time.perf_counter()
        for images, labels in batches:
            if self.step_in_epoch >= self.steps_per_epoch:
                break
            images, labels = self._prepare(images, labels)
            with self.precision.autocast(self.ctx.device):
                logits = self.net(images)
                loss = F.cross_entropy(logits, labels)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            loss = loss.detach().to(torch.float64)
            bad |= ~torch.isfinite(loss)
            sums += torch.stack(
                [
                    loss * labels.numel(),
                    (logits.detach().argmax(1) == labels).sum().to(torch.float64),
                    torch.tensor(float(labels.numel()), dtype=torch.float64, device=device),
                ]
            )
            self.step_in_epoch += 1
            self.global_step += 1
            due = cfg.checkpoint_every_steps and self.global_step % cfg.checkpoint_every_steps == 0
            if due or self.step_in_epoch - last_checked >= check_every:
                self._check_finite(bad, last_checked)
                last_checked = self.step_in_epoch
            if bar is not None:
                bar.update(1)
                if self.step_in_epoch % 10 == 0 or self.step_in_epoch == self.steps_per_epoch:
                    loss_sum, correct, count = sums.tolist()
                    rate = (self.step_in_epoch - start_step) * cfg.batch_size / max(
                        time.perf_counter() - started, 1e-9
                    )
                    bar.set_postfix(
                        loss=f"{loss_sum / count:.4f}",
                        acc=f"{correct / count:.4f}",
                        img_s=f"{rate:.0f}",
                        refresh=False,
                    )
            if due and self.step_in_epoch < self.steps_per_epoch:
                train_s += time.perf_counter() - mark
                self.elapsed_s += time.perf_counter() - mark
                self.train_sums = all_reduce_sum(sums, ctx).cpu()
                self.save_checkpoint()
                sums = self.train_sums.to(device) if ctx.is_main else torch.zeros_like(sums)
                mark = time.perf_counter()  # checkpoint time is not training time
        self._check_finite(bad, last_checked)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_s += time.perf_counter() - mark
        self.elapsed_s += time.perf_counter() - mark
        if bar is not None:
            bar.close()
        self.train_sums = all_reduce_sum(sums, ctx).cpu()
        trained = (self.step_in_epoch - start_step) * cfg.batch_size
        return trained / max(train_s, 1e-9)

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """Test loss and accuracy over this rank's shard, all-reduced over ranks."""
        cfg, ctx = self.config, self.ctx
        self.net.eval()
        sums = torch.zeros(3, dtype=torch.float64, device=ctx.device)
        for images, labels in self.dataset.test_batches(
            cfg.eval_batch_size, rank=ctx.rank, world_size=ctx.world_size
        ):
            images, labels = self._prepare(images, labels)
            with self.precision.autocast(self.ctx.device):
                logits = self.net(images)
            loss = F.cross_entropy(logits.float(), labels, reduction="sum")
            sums += torch.stack(
                [
                    loss.to(torch.float64),
                    (logits.argmax(1) == labels).sum().to(torch.float64),
                    torch.tensor(float(labels.numel()), dtype=torch.float64, device=ctx.device),
                ]
            )
        loss_sum, correct, count = all_reduce_sum(sums, ctx).tolist()
        if count == 0:
            raise OptnetError(f"dataset {cfg.dataset!r} has no test images")
        return loss_sum / count, correct / count

    # ----------------------------------------------------------------- the run
    def fit(self) -> dict[str, Any]:
        """Train to ``config.epochs`` (from where a resumed checkpoint stopped); the summary."""
        cfg, ctx = self.config, self.ctx
        metrics = MetricsLog(
            self.out,
            enabled=ctx.is_main,
            resume_epoch=self.epoch if self.resumed_from is not None else None,
        )
        if ctx.is_main:
            (self.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
        try:
            while self.epoch < cfg.epochs:
                epoch_start = self.epoch * self.steps_per_epoch
                lr = cfg.lr * lr_factor(epoch_start, self.steps_per_epoch, cfg)
                images_per_s = self.train_epoch()
                self.check_state_finite()  # before its metrics line: the epoch must be saved
                test_loss, test_acc = self.evaluate()
                loss_sum, correct, count = self.train_sums.tolist()
                self.epoch += 1
                self.step_in_epoch = 0
                self.train_sums = torch.zeros(3, dtype=torch.float64)
                record = {
                    "epoch": self.epoch,
                    "step": self.global_step,
                    "train_loss": loss_sum / count,
                    "train_acc": correct / count,
                    "test_loss": test_loss,
                    "test_acc": test_acc,
                    "test_error": 1.0 - test_acc,
                    "lr": lr,
                    "images_per_s": images_per_s,
                    "elapsed_s": self.elapsed_s,
                }
                self.history.append(
                    {k: record[k] for k in ("epoch", "test_acc", "test_loss", "images_per_s")}
                )
                metrics.write(record)
                self.save_checkpoint()
                if ctx.is_main:  # one line per epoch, with or without the progress bar
                    print(epoch_line(cfg, record, self.precision.label), file=sys.stderr,
                          flush=True)
        except TrainingDiverged as exc:
            if ctx.is_main:  # the run's outcome, so a grid can tell it from a crash
                write_json(self.out / DIVERGED_NAME, {"epoch": self.epoch + 1,
                                                       "step": self.global_step,
                                                       "message": str(exc)})
            raise
        finally:
            metrics.close()
        summary = self.summary()
        if ctx.is_main:
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            (self.out / DIVERGED_NAME).unlink(missing_ok=True)  # an earlier attempt's outcome
        return summary

    def summary(self) -> dict[str, Any]:
        """Final and best test accuracy/error, time and throughput of the run."""
        accs = [h["test_acc"] for h in self.history]
        best = max(range(len(accs)), key=accs.__getitem__) if accs else None
        rates = [h["images_per_s"] for h in self.history]
        return {
            "model": self.config.model,
            "dataset": self.config.dataset,
            "epochs": self.epoch,
            "steps": self.global_step,
            "batch_size": self.config.batch_size,
            "device": str(self.ctx.device),
            "world_size": self.ctx.world_size,
            "precision": self.precision.describe(),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "final_test_acc": accs[-1] if accs else None,
            "final_test_error": 1.0 - accs[-1] if accs else None,
            "best_test_acc": accs[best] if best is not None else None,
            "best_test_error": 1.0 - accs[best] if best is not None else None,
            "best_epoch": best + 1 if best is not None else None,
            "train_time_s": self.elapsed_s,
            "images_per_s": sum(rates) / len(rates) if rates else None,
            "resumed_from_step": self.resumed_from,
            "out": str(self.out),
        }
