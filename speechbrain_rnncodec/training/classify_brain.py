"""UtteranceClassifierBrain: one label per utterance (speaker, ...) from
any front end, with a recurrent encoder and mean pooling.

Authors
 * speechbrain_rnncodec team 2026
"""

import speechbrain as sb


class UtteranceClassifierBrain(sb.Brain):
    """Front end -> recurrent encoder -> mean over frames -> linear ->
    log-softmax, trained with the negative log-likelihood.

    Expected ``modules``: ``frontend`` (``frontend(x, lens)`` -> [B, T, D]),
    ``encoder`` (e.g. SpeechBrain's LSTM), ``pooling`` (SpeechBrain's
    ``StatisticsPooling``) and ``classifier``. Expected ``hparams``:
    ``input_key`` (``sig`` or ``tokens``), ``log_softmax``, ``compute_cost``,
    ``error_stats`` (a ``MetricStats`` factory of the classification
    error), ``lr_annealing``, ``train_logger``.
    """

    def compute_forward(self, batch, stage):
        """Log-probabilities [B, 1, classes]."""
        batch = batch.to(self.device)
        inputs, lens = getattr(batch, self.hparams.input_key)
        hidden = self.modules.encoder(self.modules.frontend(inputs, lens), lengths=lens)
        if isinstance(hidden, tuple):
            hidden = hidden[0]
        pooled = self.modules.pooling(hidden, lens)
        return self.hparams.log_softmax(self.modules.classifier(pooled))

    def compute_objectives(self, predictions, batch, stage):
        """NLL of the labels; classification error in eval."""
        labels, _ = batch.label_encoded
        loss = self.hparams.compute_cost(predictions, labels)
        if stage != sb.Stage.TRAIN:
            self.error_metrics.append(batch.id, predictions, labels)
        return loss

    def on_stage_start(self, stage, epoch=None):
        if stage != sb.Stage.TRAIN:
            self.error_metrics = self.hparams.error_stats()

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs loss and error rate; anneals the LR and checkpoints."""
        stats = {"loss": stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        stats["error_rate"] = self.error_metrics.summarize("average")
        if stage == sb.Stage.VALID:
            old_lr, new_lr = self.hparams.lr_annealing(stats["error_rate"])
            sb.nnet.schedulers.update_learning_rate(self.optimizer, new_lr)
            self.hparams.train_logger.log_stats(
                {"epoch": epoch, "lr": old_lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(
                meta={"error_rate": stats["error_rate"]}, min_keys=["error_rate"]
            )
        else:
            self.hparams.train_logger.log_stats(
                {"Epoch loaded": self.hparams.epoch_counter.current},
                test_stats=stats,
            )
