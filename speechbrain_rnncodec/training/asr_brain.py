"""CTCBrain: a character CTC recognizer on any front end (codec tokens,
codec embeddings or filterbanks), to measure how much speech a codec keeps.

Authors
 * speechbrain_rnncodec team 2026
"""

import speechbrain as sb
from speechbrain.decoders import ctc_greedy_decode

from speechbrain_rnncodec.utils.distributed import check_replicas_in_sync


class CTCBrain(sb.Brain):
    """Front end -> recurrent encoder -> linear -> log-softmax, trained with
    CTC on characters.

    Expected ``modules``: ``frontend`` (called as ``frontend(x, lens)``,
    returns [B, T, D]), ``encoder`` (e.g. SpeechBrain's bidirectional
    LSTM) and ``ctc_lin``. Expected ``hparams``: ``input_key`` (the batch
    key the front end reads: ``sig`` or ``tokens``), ``log_softmax``,
    ``ctc_cost``, ``blank_index``, ``tokenizer`` (a ``CTCTextEncoder``),
    ``wer_computer`` and ``cer_computer`` (``ErrorRateStats`` factories),
    ``lr_annealing`` and ``train_logger``; ``test_searcher`` (a
    ``CTCBeamSearcher``) is used at test time if given, next to greedy
    decoding. The relative lengths of the input are those of its frames.
    """

    def compute_forward(self, batch, stage):
        """Log-probabilities [B, T, vocabulary] and relative lengths."""
        batch = batch.to(self.device)
        inputs, lens = getattr(batch, self.hparams.input_key)
        feats = self.modules.frontend(inputs, lens)
        hidden = self.modules.encoder(feats, lengths=lens)
        if isinstance(hidden, tuple):
            hidden = hidden[0]
        log_probs = self.hparams.log_softmax(self.modules.ctc_lin(hidden))
        return log_probs, lens

    def compute_objectives(self, predictions, batch, stage):
        """CTC loss; error rates (greedy, and beam search at test)."""
        log_probs, lens = predictions
        chars, char_lens = batch.chars_encoded
        loss = self.hparams.ctc_cost(log_probs, chars, lens, char_lens)
        if stage != sb.Stage.TRAIN:
            hyps = ctc_greedy_decode(log_probs, lens, self.hparams.blank_index)
            texts = ["".join(c) for c in self.hparams.tokenizer.decode_ndim(hyps)]
            self._score("greedy", batch.id, texts, batch.wrd)
            searcher = getattr(self.hparams, "test_searcher", None)
            if stage == sb.Stage.TEST and searcher is not None:
                beams = searcher(log_probs, lens)
                self._score("beam", batch.id, [b[0].text for b in beams], batch.wrd)
        return loss

    def _score(self, name, ids, texts, references):
        """Appends hypotheses and references (strings) to WER and CER."""
        words = [text.split() for text in texts]
        refs = [ref.split() for ref in references]
        self.wer[name].append(ids, words, refs)
        self.cer[name].append(
            ids, [list(" ".join(w)) for w in words], [list(" ".join(r)) for r in refs]
        )

    def on_stage_start(self, stage, epoch=None):
        """Fresh error-rate statistics for validation and test."""
        if stage != sb.Stage.TRAIN:
            names = ["greedy", "beam"]
            self.wer = {n: self.hparams.wer_computer() for n in names}
            self.cer = {n: self.hparams.cer_computer() for n in names}

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs loss, WER and CER; anneals the LR and keeps checkpoints on
        ``checkpoint_metric`` (valid WER or CER, greedy decoding)."""
        stats = {"loss": stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        for name in ("greedy", "beam"):
            if self.wer[name].scores:
                suffix = "" if name == "greedy" else "_beam"
                stats["WER" + suffix] = self.wer[name].summarize("error_rate")
                stats["CER" + suffix] = self.cer[name].summarize("error_rate")
        if stage == sb.Stage.VALID:
            check_replicas_in_sync(self.modules)
            metric = self.hparams.checkpoint_metric
            old_lr, new_lr = self.hparams.lr_annealing(stats[metric])
            sb.nnet.schedulers.update_learning_rate(self.optimizer, new_lr)
            self.hparams.train_logger.log_stats(
                {"epoch": epoch, "lr": old_lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(
                meta={"WER": stats["WER"], "CER": stats["CER"]}, min_keys=[metric]
            )
        else:
            self.hparams.train_logger.log_stats(
                {
                    "Epoch loaded": self.hparams.epoch_counter.current,
                    "set": getattr(self, "eval_set", "test"),
                },
                test_stats=stats,
            )
            best = "beam" if self.wer["beam"].scores else "greedy"
            with open(self.hparams.wer_file, "a", encoding="utf-8") as fout:
                fout.write(f"==== {getattr(self, 'eval_set', 'test')} ({best}) ====\n")
                self.wer[best].write_stats(fout)
