"""LogMel shapes and values; SpecAugment masks only the valid part and only in training."""

import torch

from apps.speech.features import FeatureConfig, LogMel, SpecAugment


def test_log_mel_shape_frames_and_floor():
    extractor = LogMel()
    audio = torch.randn(2, 16000) * 0.1
    features = extractor(audio)
    assert features.shape == (2, 80, extractor.frames(16000)) == (2, 80, 101)
    assert extractor(torch.zeros(1234)).shape == (80, extractor.frames(1234))
    assert torch.allclose(extractor(torch.zeros(1, 800)), torch.full((1, 80, 6), torch.log(torch.tensor(1e-5))))
    assert LogMel(FeatureConfig(n_mels=40))(audio).shape[1] == 40


def test_log_mel_is_magnitude_not_power():
    t = torch.arange(16000) / 16000
    tone = torch.sin(2 * torch.pi * 1000 * t)
    extractor = LogMel()
    louder = extractor(2 * tone[None])[0, :, 10:-10].max() - extractor(tone[None])[0, :, 10:-10].max()
    assert abs(louder.item() - torch.log(torch.tensor(2.0)).item()) < 1e-4  # power would give ln 4


def test_spec_augment_masks_inside_valid_lengths_only_in_training():
    torch.manual_seed(0)
    features = torch.randn(3, 80, 300)
    lengths = torch.tensor([300, 120, 40])
    augment = SpecAugment()
    out = augment(features, lengths)
    assert not torch.equal(out, features)
    assert torch.equal(out[1, :, 120:], features[1, :, 120:]) and torch.equal(out[2, :, 40:], features[2, :, 40:])
    for i, valid in enumerate(lengths.tolist()):
        changed = out[i, :, :valid] != features[i, :, :valid]
        assert torch.allclose(out[i, :, :valid][changed], features[i, :, :valid].mean())
    augment.eval()
    assert torch.equal(augment(features, lengths), features)
    torch.manual_seed(1)
    a = SpecAugment()(features)
    torch.manual_seed(1)
    assert torch.equal(SpecAugment()(features), a)
