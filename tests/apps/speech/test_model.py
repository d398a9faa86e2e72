"""The speech models: shapes, padding, overfitting, durations and synthesis length."""

import numpy as np
import torch

from apps.speech.audio import SAMPLE_RATE
from apps.speech.config import DecodeConfig
from apps.speech.data import AsrTrainingSet, Utterance, collate_asr
from apps.speech.datasets.synth import get_voice, synthesize
from apps.speech.features import FeatureConfig
from apps.speech.metrics import cer
from apps.speech.model import AsrModelConfig, FastSpeech, SpeechRecognizer, TtsModelConfig
from apps.speech.modules import length_regulate, subsampled_lengths
from apps.speech.predict import Recognizer, Synthesizer
from apps.speech.train import frame_durations
from shared.tokenizers import CharTokenizer

TINY = dict(d_model=32, n_heads=4, layers=2, d_ff=64, subsample_channels=8, conv_kernel=7)


def test_recognizer_frames_and_padding_follow_audio_lengths():
    model = SpeechRecognizer(AsrModelConfig(vocab_size=12, **TINY)).eval()
    lengths = torch.tensor([16000, 8000])
    audio = torch.randn(2, 16000) * 0.1
    audio[1, 8000:] = 0
    log_probs, padding = model({"audio": audio, "audio_lengths": lengths})
    frames = lengths // FeatureConfig().hop_length + 1
    expected = subsampled_lengths(frames, 4)
    assert log_probs.shape == (2, int(expected.max()), 12)
    assert (~padding).sum(1).tolist() == expected.tolist()
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, log_probs.shape[1]), atol=1e-4)
    alone, _ = model({"audio": audio[1:, :8000], "audio_lengths": lengths[1:]})
    # Padding changes next to nothing (only the last STFT frame sees zeros instead of reflected audio).
    assert alone.shape[1] == int(expected[1])
    assert (alone[0] - log_probs[1, : alone.shape[1]]).abs().mean() < 0.02


def test_attention_decoder_loss_and_generate():
    model = SpeechRecognizer(AsrModelConfig(vocab_size=12, decoder_layers=1, **TINY))
    batch = {"audio": torch.randn(2, 8000) * 0.1, "audio_lengths": torch.tensor([8000, 6000]),
             "targets": torch.tensor([[5, 6, 7], [8, 9, 0]]), "target_lengths": torch.tensor([3, 2])}
    losses = model.losses(batch, ctc_weight=0.5)
    assert set(losses) == {"ctc", "attention"} and all(torch.isfinite(v) for v in losses.values())
    out = model.eval().generate({"audio": batch["audio"], "audio_lengths": batch["audio_lengths"]})
    assert out.shape[0] == 2


def test_a_tiny_recognizer_overfits_five_utterances_to_cer_zero():
    texts = ["one two three", "open the door", "red fish blue fish", "a quiet night", "seven big boats"]
    voice = get_voice("flite-kal16")
    utterances = [Utterance("", t, 1.0, synthesize(t, voice)) for t in texts]
    tokenizer = CharTokenizer.train(texts)
    torch.manual_seed(0)
    model = SpeechRecognizer(AsrModelConfig(vocab_size=tokenizer.vocab_size, d_model=64, n_heads=4, layers=2, d_ff=128,
                                            subsample_channels=16, conv_kernel=7, spec_augment=False, dropout=0.0))
    data = AsrTrainingSet(utterances, tokenizer.encode, speeds=[1.0], gain_db=0.0)
    batch = collate_asr([data[i] for i in range(len(data))])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    recognizer = Recognizer(model, tokenizer, None, DecodeConfig(method="greedy"))
    error = 1.0
    for step in range(1, 401):
        model.train()
        loss = model.losses(batch)["ctc"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 25 == 0:
            error = cer(texts, [t.text for t in recognizer.transcribe([u.audio for u in utterances])])
            if error == 0.0:
                break
    assert error == 0.0


def test_length_regulator_and_frame_durations_add_up():
    x = torch.randn(2, 3, 4)
    frames, padding = length_regulate(x, torch.tensor([[2, 0, 3], [1, 1, 0]]))
    assert frames.shape == (2, 5, 4) and (~padding).sum(1).tolist() == [5, 2]
    assert torch.equal(frames[0, 2:5], x[0, 2].expand(3, 4))
    for aligned, factor, total in (([3, 1, 4], 2, 15), ([1, 1], 2, 5), ([5, 0, 2], 4, 27)):
        durations = frame_durations(aligned, factor, total)
        assert sum(durations) == total and min(durations) >= 0


def test_fastspeech_synthesis_length_matches_its_durations():
    model = FastSpeech(TtsModelConfig(vocab_size=20, d_model=32, n_heads=2, encoder_layers=1, decoder_layers=1,
                                      d_ff=64, duration_channels=16, postnet_layers=2, postnet_channels=16)).eval()
    out = model.synthesize(torch.tensor([[5, 6, 7, 0], [8, 9, 10, 11]]))
    frames = (~out.mel_padding).sum(1)
    assert frames.tolist() == out.durations.sum(1).tolist()
    assert out.durations[0, 3] == 0  # padding speaks for no time
    teacher = model(torch.tensor([[5, 6, 7]]), torch.tensor([[2, 3, 4]]))
    assert teacher["mel"].shape == (1, 80, 9)


def test_trained_tts_produces_audio_of_the_expected_length(tiny_speech):
    synthesizer = Synthesizer(tiny_speech["tts"]["model_dir"], griffin_lim_iters=4)
    mel = synthesizer.log_mels(["The cat sat."])[0]
    audio = synthesizer.synthesize(["The cat sat."])[0]
    assert mel.shape[0] == 80 and mel.shape[1] >= 1
    assert len(audio) == (mel.shape[1] - 1) * FeatureConfig().hop_length
    assert audio.dtype == np.float32 and np.isfinite(audio).all()
    assert len(audio) / SAMPLE_RATE < 30
