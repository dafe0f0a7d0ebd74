"""PriorBrain: trains the token prior of the entropy coder on packets of
codec tokens, exactly as the coder sees them.

Authors
 * speechbrain_rnncodec team 2026
"""

import math
import random

import speechbrain as sb
import torch


def packets(tokens, lens, packet_frames):
    """Splits padded token sequences [B, T, K] into packets [N, F, K] and
    a mask [N, F] of real frames; the prior restarts at every packet, like
    the range coder.

    Example
    -------
    >>> tokens = torch.arange(10).view(1, 5, 2)
    >>> packets(tokens, torch.tensor([1.0]), 2)[1].tolist()  # padded to 6
    [[True, True], [True, True], [True, False]]
    >>> packets(tokens, torch.tensor([0.8]), 2)[1].tolist()  # 4 real frames
    [[True, True], [True, True]]
    """
    batch, steps, _ = tokens.shape
    pad = -steps % packet_frames
    tokens = torch.nn.functional.pad(tokens, (0, 0, 0, pad))
    valid = (
        torch.arange(steps + pad, device=tokens.device)[None]
        < torch.round(lens * steps)[:, None]
    )
    split = tokens.reshape(batch * (steps + pad) // packet_frames, packet_frames, -1)
    mask = valid.reshape(-1, packet_frames)
    keep = mask.any(dim=1)
    return split[keep], mask[keep]


class PriorBrain(sb.Brain):
    """Cross-entropy (in bits) of the prior on the modelled codebooks.

    Expected ``modules``: ``prior`` (a ``TokenPrior``). Expected
    ``hparams``: ``packet_frames``, ``bitrates`` (kbps to report),
    ``bits_per_code`` (raw, e.g. 10), ``frame_rate``, ``lr_annealing``,
    ``train_logger``, ``rate_contexts``. A file of a bitrate gives the
    prior only that rate's codes of the previous frame (3 of 12 at 1.5
    kbps), so validation scores each bitrate with its own codes as the
    context: bits per code of each codebook (all codes as context) and the
    share of bits saved at each bitrate (codebooks beyond the modelled ones
    cost their raw bits). With ``rate_contexts``, each training batch
    also sees the codes of one bitrate drawn at random; otherwise all.
    """

    def _rate_codebooks(self):
        """Codebooks per frame at each reported bitrate (kbps -> count)."""
        raw = self.hparams.frame_rate * self.hparams.bits_per_code
        return {kbps: round(kbps * 1000 / raw) for kbps in self.hparams.bitrates}

    def compute_forward(self, batch, stage):
        """Logits of the packets of the batch for each context width
        (codebooks of the previous frame), the packets and their mask."""
        batch = batch.to(self.device)
        tokens, lens = batch.tokens
        split, mask = packets(tokens, lens, self.hparams.packet_frames)
        counts = sorted(set(self._rate_codebooks().values()))
        if stage == sb.Stage.TRAIN:
            rate_contexts = getattr(self.hparams, "rate_contexts", False)
            counts = [random.choice(counts) if rate_contexts else split.shape[-1]]
        logits = {k: self.modules.prior(split[..., :k]) for k in counts}
        return logits, split, mask

    def compute_objectives(self, predictions, batch, stage):
        """Mean bits per modelled code, over the context widths."""
        logits, split, mask = predictions
        frames, losses = mask.sum(), []
        for count, scores in logits.items():
            modelled = scores.shape[2]
            nll = torch.nn.functional.cross_entropy(
                scores.flatten(0, 2).float(),
                split[..., :modelled].flatten(),
                reduction="none",
            ).view(mask.shape + (modelled,))
            bits = (nll * mask[..., None]).sum(dim=(0, 1)) / math.log(2)
            if stage != sb.Stage.TRAIN:
                self.bits[count] = (
                    self.bits.get(count, 0.0) + bits.detach().cpu().double()
                )
            losses.append(bits.sum() / (frames * modelled))
        if stage != sb.Stage.TRAIN:
            self.frames += int(frames)
        return sum(losses) / len(losses)

    def on_stage_start(self, stage, epoch=None):
        self.bits, self.frames = {}, 0

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs bits per code and savings; anneals and checkpoints."""
        stats = {"bits_per_code": stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        frames, raw = max(self.frames, 1), self.hparams.bits_per_code
        per_codebook = (self.bits[max(self.bits)] / frames).tolist()
        for k, value in enumerate(per_codebook):
            stats[f"bits_{k + 1}"] = value
        for kbps, count in self._rate_codebooks().items():
            modelled = (self.bits[count] / frames).tolist()
            coded = modelled[:count] + [raw] * (count - len(modelled))
            stats[f"saved_{kbps:g}kbps"] = 100.0 * (1 - sum(coded) / (count * raw))
        stats = {k: round(v, 4) for k, v in stats.items()}
        if stage == sb.Stage.VALID:
            old_lr, new_lr = self.hparams.lr_annealing(stage_loss)
            sb.nnet.schedulers.update_learning_rate(self.optimizer, new_lr)
            self.hparams.train_logger.log_stats(
                {"epoch": epoch, "lr": old_lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(
                meta={"bits_per_code": stage_loss}, min_keys=["bits_per_code"]
            )
        else:
            self.test_stats = stats
            self.hparams.train_logger.log_stats(
                {
                    "Epoch loaded": self.hparams.epoch_counter.current,
                    "set": getattr(self, "eval_set", "test"),
                },
                test_stats=stats,
            )
