"""Phase diagnostics (rnncodec bench --phase): the framing matches the
decoder's, the oracles and Griffin-Lim score what they should."""

import math
import pathlib

import pytest
import torch

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.cli import common
from speechbrain_rnncodec.cli import main as cli
from speechbrain_rnncodec.evaluation.demo import SAMPLE
from speechbrain_rnncodec.evaluation.diagnostics import (
    analyze,
    decoder_spectra,
    phase_agreement,
    phase_diagnostics,
    pitch_diagnostics,
    relevel,
    sent_f0_tracks,
    synthesize,
)
from speechbrain_rnncodec.inference import RNNCodec
from speechbrain_rnncodec.lobes.excitation import band_interpolation
from speechbrain_rnncodec.metrics.signal import pesq_wb

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEV = ROOT / "tests" / "samples" / "LibriSpeech" / "dev-clean-5"


@pytest.fixture(scope="module")
def speech():
    return read_audio(SAMPLE)[: 2 * 16000]


def test_original_frames_resynthesize_the_input(codec, speech):
    """The original's frames, in the decoder's framing, give the input back."""
    dec = codec.mods.decoder
    _, original = decoder_spectra(codec, speech[None], 6.0)
    out = synthesize(dec.istft, original, len(speech), dec.delay_samples)
    # The last hop is covered by fewer windows than the overlap needs.
    end = len(speech) - dec.delay_samples
    assert torch.allclose(out[0, :end], speech[:end], atol=1e-5)


def test_decoded_frames_are_what_the_decoder_outputs(codec, speech):
    dec = codec.mods.decoder
    decoded, _ = decoder_spectra(codec, speech[None], 3.0)
    out = synthesize(dec.istft, decoded, len(speech), dec.delay_samples)
    tokens, _ = codec.encode(speech[None], bitrate=3.0)
    assert torch.allclose(out, codec.decode(tokens)[:, : len(speech)], atol=1e-4)


def test_phase_agreement_of_exact_and_unrelated_phase(speech):
    from speechbrain_rnncodec.lobes.decoder import OverlapAddISTFT

    spec = analyze(OverlapAddISTFT(320, 80), speech[None])
    exact = phase_agreement([(spec, spec)], 16000)
    assert all(b["phase"] == 1.0 and b["advance"] == 1.0 for b in exact)
    assert sum(b["energy"] for b in exact) == pytest.approx(1.0, abs=1e-2)
    torch.manual_seed(0)
    noise = torch.polar(spec.abs(), torch.rand(spec.shape) * 6.2832)
    unrelated = phase_agreement([(noise, spec)], 16000)
    assert all(abs(b["phase"]) < 0.2 and abs(b["advance"]) < 0.2 for b in unrelated)


def test_diagnostics_score_the_codec_output_and_the_oracles(codec, speech):
    result = phase_diagnostics(codec, [speech], 6.0, iterations=(2,))
    rows = {r["what"]: r for r in result["rows"]}
    assert len(rows) == 7 and len(result["bands"]) == 6
    tokens, _ = codec.encode(speech[None], bitrate=6.0)
    decoded = codec.decode(tokens)[:, : len(speech)]
    pesq = float(pesq_wb(decoded, speech[None], torch.ones(1))[0])
    assert rows["decoded"]["pesq"] == pytest.approx(pesq, abs=0.01)
    assert all(-0.5 <= r["pesq"] <= 4.64 and 0 < r["stoi"] <= 1 for r in rows.values())
    assert len({r["pesq"] for r in rows.values()}) == 7  # seven different signals


def test_relevel_gives_the_band_energies_of_the_target(codec, speech):
    """The band oracle moves the decoded band energies onto the original's
    and keeps what lies inside the bands (phase, harmonics)."""
    decoded, original = decoder_spectra(codec, speech[None], 1.5)
    bands = band_interpolation(64, decoded.shape[-1], 16000)

    def band_db(spec):
        return 10 * torch.log10((spec.abs() ** 2) @ bands.T + 1e-10)

    voiced = band_db(original).amax(dim=-1) > band_db(original).amax() - 40
    before = (band_db(decoded) - band_db(original))[voiced].abs().median()
    out = relevel(decoded, original, bands)
    after = (band_db(out) - band_db(original))[voiced].abs().median()
    assert before > 2.0 and after < 0.5 * before
    assert torch.allclose(out.angle(), decoded.angle(), atol=1e-4)


def test_bench_phase_command(codec, monkeypatch, capsys):
    monkeypatch.setattr(common, "load_model", lambda args: codec)
    args = ["bench", "--phase", str(DEV), "--max-utterances", "2", "--seconds", "2"]
    assert cli.main(args + ["--bitrate", "1.5"]) == 0
    out = capsys.readouterr().out
    assert "2 utterances" in out and "1.5 kbps" in out
    assert "Griffin-Lim x100 on the decoded magnitude" in out
    assert "0-200 Hz" in out and "3200-8000 Hz" in out


def untrained_hub_model(tmp_path_factory, yaml_name):
    """An untrained model of a shipped hub yaml in a hub folder."""
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_rnncodec.inference.export import export_checkpoint

    hparams_file = ROOT / "hparams" / yaml_name
    ckpt = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    with open(hparams_file, encoding="utf-8") as fin:
        modules = load_hyperpyyaml(fin)["modules"]
    for name, module in modules.items():
        torch.save(module.state_dict(), ckpt / f"{name}.ckpt")
    hub = export_checkpoint(ckpt, hparams_file, tmp_path_factory.mktemp("hub") / "sf")
    return RNNCodec.from_hparams(source=str(hub))


@pytest.fixture(scope="module")
def source_filter_codec(tmp_path_factory):
    """An untrained source-filter model in a hub folder (random weights)."""
    return untrained_hub_model(tmp_path_factory, "rnn_sf_16k.yaml")


def test_bench_pitch_scores_the_sent_f0_of_a_pitch_column_model(
    tmp_path_factory, monkeypatch, capsys
):
    codec = untrained_hub_model(tmp_path_factory, "rnn_sf_pitch_16k.yaml")
    monkeypatch.setattr(common, "load_model", lambda args: codec)
    # 19-198-0000 (1.965 s) ends inside a frame: its last frame's 20 ms
    # reference lies past the reference track
    args = ["bench", "--pitch", str(DEV), "--max-utterances", "1", "--seconds", "4"]
    assert cli.main(args + ["--bitrate", "1.5"]) == 0
    out = capsys.readouterr().out
    for ms in (0, 5, 10, 20):
        assert f"sent F0 against the reference {ms} ms into the frame" in out
    assert "decoded with the sent F0 alone" in out
    assert "decoded with the sent F0 and a causal F0 10 ms later" in out
    assert "decoded with the reference F0 at the sent one's time and 10 ms later" in out


def test_second_sent_f0_tracks_glide_from_the_sent_f0(speech):
    """The glide moves the track only after the sent F0's frame, at most 100
    cents per 10 ms; the two reference points are the reference's own."""
    from speechbrain_rnncodec.training.pitch import ReferencePitch, pitch_targets

    # A model that sends no glide of its own.
    codec = RNNCodec.from_hparams(source="rnn_sf_pitch_sub_so762_e192_d192_stoi_16k")

    dec, frame = codec.mods.decoder, codec.codec.samples_per_frame
    wav = speech[: len(speech) // frame * frame]
    n_frames = len(wav) // frame * dec.frames_per_step
    target = pitch_targets(ReferencePitch()(wav), 0, n_frames, dec.hop_length)[None]
    tracks = dict(sent_f0_tracks(codec, wav, codec.num_quantizers_for(3.0), target))
    base = tracks["sent F0 alone"].reshape(-1, dec.frames_per_step)
    glided = tracks["sent F0 and a causal F0 10 ms later"].reshape(base.shape)
    anchor = dec.pitch_anchor
    moved = (glided - base) * 1200 / math.log(2)
    assert torch.equal(moved[:, : anchor + 1], torch.zeros_like(moved[:, : anchor + 1]))
    assert moved.abs().max() <= 100 * 1.5 + 1e-3  # 10 ms on from 10 ms later
    assert (moved[:, anchor + 2] != 0).float().mean() > 0.2  # it glides
    two = tracks["reference F0 at the sent one's time and 10 ms later"]
    two, ref = two.reshape(base.shape), target[0, :, 0].reshape(base.shape)
    assert torch.allclose(two[:, anchor], ref[:, anchor])
    assert torch.allclose(two[:, anchor + 2], ref[:, anchor + 2])


def test_a_gliding_model_is_decoded_with_its_own_track_only(speech):
    """A model that sends a glide (the default since 2026-12-07): the
    diagnostic decodes its own track and no estimated glide on top."""
    from speechbrain_rnncodec.training.pitch import ReferencePitch, pitch_targets

    codec = RNNCodec.from_hparams(source="rnn_sf_pitch_sub_so762_e192_d192_glide_16k")
    dec, frame = codec.mods.decoder, codec.codec.samples_per_frame
    wav = speech[: len(speech) // frame * frame]
    n_frames = len(wav) // frame * dec.frames_per_step
    target = pitch_targets(ReferencePitch()(wav), 0, n_frames, dec.hop_length)[None]
    tracks = sent_f0_tracks(codec, wav, codec.num_quantizers_for(3.0), target)
    assert [what for what, _ in tracks] == ["sent F0 alone"]
    # Its track glides inside the frames, as the decoder's own base does.
    track = tracks[0][1].reshape(-1, dec.frames_per_step)
    assert (track[:, 2] != track[:, 0]).float().mean() > 0.1
    assert codec(wav[None], bitrate=3.0).shape == (1, len(wav))


def test_no_second_sent_f0_for_a_model_that_predicts_its_pitch(source_filter_codec):
    wav = read_audio(SAMPLE)[:16000]
    assert sent_f0_tracks(source_filter_codec, wav, 2, None) == []


def test_bench_pitch_command(source_filter_codec, monkeypatch, capsys):
    monkeypatch.setattr(common, "load_model", lambda args: source_filter_codec)
    args = ["bench", "--pitch", str(DEV), "--max-utterances", "2", "--seconds", "2"]
    assert cli.main(args + ["--bitrate", "1.5"]) == 0
    out = capsys.readouterr().out
    assert "2 utterances" in out and "1.5 kbps" in out
    assert "decoded with the predicted pitch" in out
    assert "decoded with the reference pitch" in out
    assert "decoded with the reference F0, predicted voicing" in out
    assert "decoded with the predicted F0 with its gross errors mended" in out
    assert "decoded with the reference F0 but at the gross errors" in out
    assert "sent F0" not in out  # it predicts its pitch
    assert "tracker FCPE (reference)" in out


def test_pitch_diagnostics_score_an_untrained_decoder_as_such(source_filter_codec):
    wavs = [read_audio(path, duration=2.0) for path in sorted(DEV.rglob("*.flac"))]
    result = pitch_diagnostics(source_filter_codec, wavs, 6.0)
    # Untrained: the F0 sits near its initial 150 Hz, far from both speakers'.
    assert result["decoder"]["gross"] > 0.3
    assert result["decoder"]["frames"] > 100
    assert all(0 <= r["stoi"] <= 1 for r in result["rows"])


def test_pitch_diagnostics_refuse_a_decoder_without_pitch(speech):
    codec = RNNCodec.from_hparams(source="rnn_vq_16k")
    with pytest.raises(ValueError, match="no pitch"):
        pitch_diagnostics(codec, [speech], 6.0)
