"""CodecBrain: what one training step of the recurrent codec means.

Authors
 * speechbrain_rnncodec team 2026
"""

import logging
import random
import zlib

import speechbrain as sb
import torch
from speechbrain.dataio.dataio import length_to_mask

from speechbrain_rnncodec.lobes.codec import RecurrentCodec
from speechbrain_rnncodec.lobes.streaming import unwrap
from speechbrain_rnncodec.metrics.stats import metric_stats
from speechbrain_rnncodec.training.pitch import pitch_errors
from speechbrain_rnncodec.utils.distributed import check_replicas_in_sync

logger = logging.getLogger(__name__)


# checkpoint_metric -> how Checkpointer ranks checkpoints
CHECKPOINT_KEYS = {"loss": {"min_key": "loss"}, "pesq": {"max_key": "pesq"}}


def module_part(modules, name):
    """The module ``name`` of ``modules`` (unwrapped from DDP), or with a
    dotted name a part of one (``"quantizer.stages"``)."""
    root, _, part = name.partition(".")
    module = unwrap(modules[root])
    return module.get_submodule(part) if part else module


def pitch_masks(reference, lens):
    """Frames inside each length [B, N], and those voiced in the reference."""
    frames = length_to_mask(lens * reference.shape[1], reference.shape[1]).bool()
    return frames, frames & (reference[..., 1] > 0.5)


def pitch_losses(decoder, state, reference, lens):
    """Pitch terms of a decoder that predicts pitch.

    Arguments
    ---------
    decoder : SourceFilterDecoder
        The decoder (its ``pitch_loss`` scores the F0 per frame).
    state : SourceFilterState
        Its state after decoding the batch (the predicted pitch).
    reference : torch.Tensor
        Targets [B, N', 2] (log F0, voicing), N' >= N frames.
    lens : torch.Tensor
        Relative lengths [B].

    Returns
    -------
    dict
        ``pitch``: the F0 loss averaged over voiced frames; ``voicing``:
        binary cross-entropy of the voicing decision on every frame.
    """
    pitch = state.pitch
    reference = reference[:, : pitch.shape[1]].to(pitch.device)
    frames, voiced = pitch_masks(reference, lens)
    error = decoder.pitch_loss(state, reference[..., 0])
    voicing = torch.nn.functional.binary_cross_entropy_with_logits(
        pitch[..., 1], reference[..., 1], reduction="none"
    )
    return {
        "pitch": (error * voiced).sum() / voiced.sum().clamp(min=1),
        "voicing": (voicing * frames).sum() / frames.sum().clamp(min=1),
    }


def sent_pitch_losses(quantizer, scores, reference, lens, stride, anchor):
    """Pitch terms of an encoder whose bottleneck sends the pitch.

    Arguments
    ---------
    quantizer : PitchColumnQuantizer
        The bottleneck (its ``pitch_loss`` scores each frame).
    scores : torch.Tensor
        The encoder's pitch scores [B, T', 1 + bins].
    reference : torch.Tensor
        Targets at the decoder's frames [B, N', 2] (log F0, voicing).
    lens : torch.Tensor
        Relative lengths [B].
    stride : int
        Decoder frames per latent frame.
    anchor : int
        The decoder frame of each latent frame whose end the sent F0
        describes.

    Returns
    -------
    dict
        ``sent_pitch``: the F0-bin loss averaged over voiced frames;
        ``sent_voicing``: the voicing loss on every frame.
    """
    reference = reference[:, anchor::stride][:, : scores.shape[1]]
    reference = reference.to(scores.device)
    frames, voiced = pitch_masks(reference, lens)
    f0, voicing = quantizer.pitch_loss(scores, reference)
    return {
        "sent_pitch": (f0 * voiced).sum() / voiced.sum().clamp(min=1),
        "sent_voicing": (voicing * frames).sum() / frames.sum().clamp(min=1),
    }


def batch_pitch_errors(pitch, reference, lens):
    """Gross error rate, fine error (cents) and voicing error of a batch."""
    reference = reference[:, : pitch.shape[1]].to(pitch.device)
    frames, _ = pitch_masks(reference, lens)
    errors = pitch_errors(pitch.detach(), reference, frames)
    return {f"f0_{k}": v for k, v in errors.items() if k != "frames"}


class CodecBrain(sb.Brain):
    """Trains encoder, bottleneck and decoder on reconstruction losses.

    Expected ``modules``: ``encoder``, ``quantizer`` (the RVQ or a
    bottleneck of :mod:`speechbrain_rnncodec.lobes.quantization`) and
    ``decoder``. Expected ``hparams``: ``spectral_loss``, ``loss_weights``
    (``mel``, ``log_mag``, ``convergence``, ``complex``, ``waveform``,
    ``bottleneck``: the quantizer's own term, commitment or rate; and,
    each with an optional ``NAME_loss``, ``band_energy``,
    ``spectral_balance``, ``pesq_distance`` and ``stoi_distance``),
    ``valid_bitrates`` (kbps) and ``adversarial``. When ``adversarial`` is
    True, ``hparams`` also needs ``discriminator`` (SpeechBrain's HiFi-GAN
    discriminators), ``discriminator_opt_class``, ``generator_loss`` (a
    HiFi-GAN ``GeneratorLoss`` holding the adversarial and feature-matching
    losses and their weights) and ``discriminator_loss``; the
    discriminator step keeps the Brain's precision, gradient clipping and
    checkpointing. ``frozen_modules`` (optional, e.g. ``[encoder,
    quantizer]``) are kept in eval mode without gradients: training only
    the decoder keeps the tokens of the initial model, so its entropy
    model and token-based downstream models stay valid; quantizer dropout
    then draws the bitrate per batch. A dotted name freezes a part, e.g.
    ``quantizer.stages`` (the full codebooks, while a new narrow one
    learns). With ``noise`` (a
    :class:`~speechbrain_rnncodec.training.noise.NoiseMixer`), the codec codes a
    noisy copy of each batch and is scored against the clean speech: a
    denoising codec (validation noise is seeded by the batch's IDs).
    A decoder that predicts pitch (``predicts_pitch``, the source-filter
    decoder) needs the reference ``pitch`` in each batch (see
    :mod:`speechbrain_rnncodec.training.pitch`) and the ``pitch`` and ``voicing``
    loss weights; with ``teacher_forcing`` the reference pitch drives its
    excitation in training (evaluation always uses the predicted pitch).
    ``valid_metrics`` names the metrics scored at each of the
    ``valid_bitrates`` (see :func:`~speechbrain_rnncodec.metrics.stats.metric_stats`).
    ``checkpoint_metric`` ranks the kept checkpoints: ``loss`` (lowest
    valid loss) or ``pesq`` (highest valid PESQ-WB, averaged over the
    bitrates); both are recorded in every checkpoint.
    """

    def __init__(self, modules=None, *args, hparams=None, **kwargs):
        metric = (hparams or {}).get("checkpoint_metric", "loss")
        if metric not in CHECKPOINT_KEYS:
            raise ValueError(f"checkpoint_metric must be loss or pesq, not {metric}")
        if metric == "pesq" and "pesq" not in hparams["valid_metrics"]:
            raise ValueError("checkpoint_metric pesq needs pesq among valid_metrics")
        if hparams and hparams.get("adversarial"):
            modules = dict(modules, discriminator=hparams["discriminator"])
        for name in (hparams or {}).get("frozen_modules") or []:
            module_part(modules, name).requires_grad_(False)  # before DDP
        super().__init__(modules, *args, hparams=hparams, **kwargs)

    @property
    def best_checkpoint(self):
        """``{"min_key": "loss"}`` or ``{"max_key": "pesq"}``: the ranking
        of checkpoints, for :meth:`evaluate` (``checkpoint_metric``)."""
        return CHECKPOINT_KEYS[self.hparams.checkpoint_metric]

    @property
    def quantizer(self):
        """The bottleneck module (unwrapped from DDP)."""
        return unwrap(self.modules.quantizer)

    # ------------------------------------------------------------------ model
    def reconstruct(self, wavs, lens, num_quantizers=None, teacher_pitch=None):
        """Encodes, quantizes and decodes a padded batch.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms [B, T].
        lens : torch.Tensor
            Relative lengths [B].
        num_quantizers : int, optional
            Codebooks to use (in eval, or with a frozen quantizer).
        teacher_pitch : torch.Tensor, optional
            Reference pitch [B, N, 2] that drives the excitation of a
            decoder that predicts pitch (training with teacher forcing).

        Returns
        -------
        decoded : torch.Tensor
            Waveforms [B, T], zero beyond each length.
        bottleneck : QuantizerOutput
            Codes, the bottleneck's loss and its statistics.
        pitch_state : SourceFilterState or None
            The decoder's state after the batch (its predicted pitch), None
            for a decoder without pitch.
        """
        codec = self.codec
        frames = -(-wavs.shape[1] // codec.samples_per_frame)
        mask = length_to_mask(torch.ceil(lens * frames), frames).bool()
        pitch = {"teacher_pitch": teacher_pitch} if codec.predicts_pitch else {}
        out = codec(wavs, num_quantizers, mask=mask, **pitch)
        pitch_state = out.decoder_state if codec.predicts_pitch else None
        sample_mask = length_to_mask(lens * wavs.shape[1], wavs.shape[1])
        return out.wav * sample_mask, out.bottleneck, pitch_state

    @property
    def predicts_pitch(self):
        """Whether the decoder predicts a pitch track (source-filter)."""
        return self.codec.predicts_pitch

    @property
    def codec(self):
        """The :class:`RecurrentCodec` of the (possibly DDP-wrapped) lobes,
        composed on each use so that it calls the wrappers."""
        mods = self.modules
        return RecurrentCodec(mods.encoder, mods.quantizer, mods.decoder)

    def compute_forward(self, batch, stage):
        """Reconstructs the batch (at every validation bitrate in eval).

        Arguments
        ---------
        batch : PaddedBatch
            Batch with ``sig``.
        stage : sb.Stage
            Training stage.

        Returns
        -------
        dict
            Bitrate label (``"train"`` in training, ``"<kbps>kbps"`` in
            eval) -> (decoded, bottleneck output, pitch state or None).
            Evaluation always decodes with the predicted pitch.
        """
        batch = batch.to(self.device)
        wavs, lens = batch.sig
        noise = getattr(self.hparams, "noise", None)
        if noise is not None:  # denoising: noisy input, clean target
            generator = None
            if stage != sb.Stage.TRAIN:  # the same noise at every validation
                seed = zlib.crc32(",".join(batch.id).encode())
                generator = torch.Generator().manual_seed(seed)
            wavs = noise(wavs, lens, generator)
        if stage == sb.Stage.TRAIN:
            num_quantizers = None
            frozen = getattr(self.hparams, "frozen_modules", None) or []
            for name in frozen:  # Brain.fit sets every module to train mode
                module_part(self.modules, name).eval()
            if "quantizer" in frozen:
                num_quantizers = random.choice(self.quantizer.train_num_quantizers)
            teacher = None
            if self.predicts_pitch and self.hparams.teacher_forcing:
                teacher = batch.pitch.data
            return {"train": self.reconstruct(wavs, lens, num_quantizers, teacher)}
        return {
            f"{kbps:g}kbps": self.reconstruct(
                wavs, lens, self.quantizer.num_quantizers_for(kbps)
            )
            for kbps in self.hparams.valid_bitrates
        }

    def reconstruction_losses(
        self, decoded, wavs, bottleneck, pitch_state=None, batch=None
    ):
        """Weighted loss terms of one reconstruction (no adversarial terms).

        Arguments
        ---------
        decoded : torch.Tensor
            Decoded waveforms [B, T].
        wavs : torch.Tensor
            Target waveforms [B, T].
        bottleneck : QuantizerOutput
            Output of the bottleneck.
        pitch_state : SourceFilterState, optional
            The decoder's state (its predicted pitch); with it, ``batch``
            must hold the reference ``pitch`` and the loss gains the terms
            ``pitch`` (the F0 loss on voiced frames) and ``voicing``
            (binary cross-entropy).
        batch : PaddedBatch, optional
            The batch (for the reference pitch).

        Returns
        -------
        dict
            Loss terms, before weighting, and ``loss`` (their weighted sum).
        """
        terms = self.hparams.spectral_loss(decoded, wavs)
        optional = ("band_energy", "spectral_balance", "pesq_distance", "stoi_distance")
        for name in optional:
            loss = getattr(self.hparams, f"{name}_loss", None)
            if loss is not None:
                terms[name] = loss(decoded, wavs)
        terms["waveform"] = (decoded - wavs).abs().mean()
        terms["bottleneck"] = bottleneck.loss
        if pitch_state is not None:
            decoder = unwrap(self.modules.decoder)
            terms.update(pitch_losses(decoder, pitch_state, *batch.pitch))
        if bottleneck.pitch_scores is not None:
            decoder = unwrap(self.modules.decoder)
            terms.update(
                sent_pitch_losses(
                    unwrap(self.modules.quantizer),
                    bottleneck.pitch_scores,
                    *batch.pitch,
                    stride=decoder.frames_per_step,
                    anchor=decoder.pitch_anchor,
                )
            )
        weights = self.hparams.loss_weights
        terms["loss"] = sum(weights[k] * terms[k] for k in list(terms))
        return terms

    def compute_objectives(self, predictions, batch, stage):
        """Reconstruction losses; quality metrics in eval.

        Arguments
        ---------
        predictions : dict
            Output of :meth:`compute_forward`.
        batch : PaddedBatch
            The batch.
        stage : sb.Stage
            Training stage.

        Returns
        -------
        torch.Tensor
            The loss (at the highest bitrate in eval).
        """
        wavs, lens = batch.sig
        wavs = wavs.to(self.device)
        for label, (decoded, bottleneck, pitch_state) in predictions.items():
            terms = self.reconstruction_losses(
                decoded, wavs, bottleneck, pitch_state, batch
            )
            prefix = "" if stage == sb.Stage.TRAIN else f"{label}_"
            self._log(terms, prefix=prefix)
            self._log(bottleneck.stats)
            if pitch_state is not None and stage != sb.Stage.TRAIN:
                errors = batch_pitch_errors(pitch_state.pitch, *batch.pitch)
                self._log(errors, prefix=prefix)
            if stage != sb.Stage.TRAIN:
                for metric in self.metrics[label].values():
                    metric.append(batch.id, decoded, wavs, lens)
        return terms["loss"]

    # -------------------------------------------------------- adversarial step
    def init_optimizers(self):
        """Separate codec and discriminator optimizers when adversarial."""
        if not self.hparams.adversarial:
            return super().init_optimizers()
        self.optimizer = self.opt_class(self._codec_parameters())
        self.discriminator_optimizer = self.hparams.discriminator_opt_class(
            self.modules.discriminator.parameters()
        )
        self.optimizers_dict = {
            "opt_class": self.optimizer,
            "discriminator_optimizer": self.discriminator_optimizer,
        }
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)
            self.checkpointer.add_recoverable(
                "discriminator_optimizer", self.discriminator_optimizer
            )
            self.checkpointer.add_recoverable(
                "discriminator", self.modules.discriminator
            )

    def _codec_parameters(self):
        """Parameters of the codec (every module but the discriminator)."""
        return [
            p
            for name, module in self.modules.items()
            if name != "discriminator"
            for p in module.parameters()
        ]

    def fit_batch(self, batch):
        """One step; with ``adversarial``, a discriminator then a codec step.

        Arguments
        ---------
        batch : PaddedBatch
            Training batch.

        Returns
        -------
        torch.Tensor
            The codec's loss (detached).
        """
        if not self.hparams.adversarial:
            return super().fit_batch(batch)
        wavs, lens = batch.sig
        wavs = wavs.to(self.device)
        disc = self.modules.discriminator
        with self.training_ctx:
            decoded, bottleneck, pitch_state = self.compute_forward(
                batch, sb.Stage.TRAIN
            )["train"]
            scores_fake, _ = disc(decoded.detach().unsqueeze(1))
            scores_real, _ = disc(wavs.unsqueeze(1))
            loss_d = self.hparams.discriminator_loss(scores_fake, scores_real)["D_loss"]
        self._step(loss_d, self.discriminator_optimizer, disc.parameters())

        disc.requires_grad_(False)
        with self.training_ctx:
            terms = self.reconstruction_losses(
                decoded, wavs, bottleneck, pitch_state, batch
            )
            scores_fake, feats_fake = disc(decoded.unsqueeze(1))
            with torch.no_grad():
                _, feats_real = disc(wavs.unsqueeze(1))
            adv = self.hparams.generator_loss(
                sb.Stage.TRAIN,
                scores_fake=scores_fake,
                feats_fake=feats_fake,
                feats_real=feats_real,
            )
            terms["adversarial"] = adv["G_mse_fake_loss"]
            terms["feature_matching"] = adv["G_feat_match_loss"]
            terms["discriminator"] = loss_d.detach()
            terms["loss"] = terms["loss"] + adv["G_adv_loss"]
        disc.requires_grad_(True)
        self._step(terms["loss"], self.optimizer, self._codec_parameters())
        self.scaler.update()
        self.optimizer_step += 1
        self._log(terms)
        self._log(bottleneck.stats)
        return terms["loss"].detach().cpu()

    def _step(self, loss, optimizer, params):
        """Backward, unscale, clip and step one optimizer."""
        self.check_loss_isfinite(loss)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(list(params), self.max_grad_norm)
        self.scaler.step(optimizer)
        optimizer.zero_grad(set_to_none=True)

    # ------------------------------------------------------------- bookkeeping
    def _log(self, values, prefix=""):
        """Accumulates scalar values for the stage's averages."""
        for key, value in values.items():
            value = value.item() if torch.is_tensor(value) else value
            total, count = self.running.get(prefix + key, (0.0, 0))
            self.running[prefix + key] = (total + value, count + 1)

    def on_stage_start(self, stage, epoch=None):
        """Resets running averages and the quality metrics.

        Arguments
        ---------
        stage : sb.Stage
            Training stage.
        epoch : int
            Current epoch.
        """
        self.running = {}
        labels = [f"{kbps:g}kbps" for kbps in self.hparams.valid_bitrates]
        self.metrics = {
            label: metric_stats(self.hparams.valid_metrics) for label in labels
        }

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs losses, codebook usage and quality; checkpoints after valid.

        Arguments
        ---------
        stage : sb.Stage
            Training stage.
        stage_loss : float
            Average loss of the stage.
        epoch : int
            Current epoch.
        """
        stats = {"loss": stage_loss}
        stats.update({k: total / count for k, (total, count) in self.running.items()})
        if stage != sb.Stage.TRAIN:
            for label, metrics in self.metrics.items():
                for name, metric in metrics.items():
                    stats[f"{label}_{name}"] = metric.summarize("average")
        stats = {k: round(v, 4) for k, v in stats.items()}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
        elif stage == sb.Stage.VALID:
            replicas = check_replicas_in_sync(self.modules)
            if replicas > 1:
                logger.info("weights identical on %d processes", replicas)
            old_lr, new_lr = self.hparams.lr_annealing(stage_loss)
            sb.nnet.schedulers.update_learning_rate(self.optimizer, new_lr)
            self.hparams.train_logger.log_stats(
                {"epoch": epoch, "lr": old_lr, "steps": self.optimizer_step},
                train_stats=getattr(self, "train_stats", None),
                valid_stats=stats,
            )
            pesq = [v for k, v in stats.items() if k.endswith("_pesq")]
            meta = {"loss": stage_loss, "pesq": sum(pesq) / len(pesq), "epoch": epoch}
            ((key, name),) = self.best_checkpoint.items()
            self.checkpointer.save_and_keep_only(
                meta=meta,
                num_to_keep=self.hparams.checkpoints_to_keep,
                **{key + "s": [name]},
            )
        else:
            self.hparams.train_logger.log_stats(
                {
                    "Epoch loaded": self.hparams.epoch_counter.current,
                    "set": getattr(self, "eval_set", "test"),
                },
                test_stats=stats,
            )
