"""Token, sequence and CTC heads."""

import torch

from shared.models import CTCHead, SequenceHead, TokenClassificationHead


def test_sequence_head_ignores_padding():
    for pooling in ("mean", "attention"):
        head = SequenceHead(8, 3, pooling=pooling).eval()
        hidden = torch.randn(1, 4, 8)
        padded = torch.cat([hidden, torch.randn(1, 3, 8) * 100], dim=1)
        mask = torch.tensor([[False] * 4 + [True] * 3])
        torch.testing.assert_close(head(padded, mask), head(hidden), rtol=1e-5, atol=1e-5)


def test_token_head_shape():
    assert TokenClassificationHead(8, 5)(torch.randn(2, 7, 8)).shape == (2, 7, 5)


def test_ctc_greedy_decode_merges_repeats_and_blanks():
    head = CTCHead(4, 5, blank_id=0)
    frames = torch.tensor([[1, 1, 0, 1, 2, 2, 0, 3, 4]])
    log_probs = torch.nn.functional.one_hot(frames, 5).float().log()
    mask = torch.tensor([[False] * 8 + [True]])
    assert head.greedy_decode(log_probs, mask) == [[1, 1, 2, 3]]


def test_ctc_head_learns_a_fixed_alignment():
    torch.manual_seed(0)
    head = CTCHead(6, 4)
    hidden = torch.randn(3, 8, 6)
    targets = torch.tensor([[1, 2, 3], [3, 2, 0], [1, 1, 0]])
    lengths = torch.tensor([3, 2, 2])
    opt = torch.optim.Adam(head.parameters(), lr=0.1)
    first = None
    for _ in range(150):
        loss = head.loss(head(hidden), None, targets, lengths)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first / 5
    assert head.greedy_decode(head(hidden)) == [[1, 2, 3], [3, 2], [1, 1]]
