"""Tests for the EMA codebook."""

import torch

from speechbrain_rnncodec.lobes.quantization.ema import EMAVectorQuantizer


def test_ema_update_moves_code_towards_assigned_mean():
    vq = EMAVectorQuantizer(
        dim=2, codebook_size=2, decay=0.5, kmeans_iters=0, dead_code_steps=1000
    )
    start = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
    vq.cluster_size.fill_(1.0)
    vq.codebook.copy_(start)
    torch.manual_seed(0)
    x = torch.tensor([1.0, 2.0]) + 0.1 * torch.randn(8, 2)
    codes = vq.encode(x)
    assert torch.all(codes == 0)
    vq.update(x, codes)
    mean = x.mean(0)
    # cluster size 0.5 * 1 + 0.5 * 8, sum 0.5 * 0 + 0.5 * 8 * mean
    torch.testing.assert_close(vq.codebook[0], 4.0 / 4.5 * mean, atol=1e-3, rtol=0)
    assert (vq.codebook[0] - mean).norm() < (start[0] - mean).norm()
    torch.testing.assert_close(vq.codebook[1], start[1], atol=1e-3, rtol=0)
    # Repeated updates converge on the mean.
    for _ in range(20):
        vq.update(x, vq.encode(x))
    torch.testing.assert_close(vq.codebook[0], mean, atol=1e-3, rtol=0)


def test_nearest_codes_follow_every_change_of_the_codebook():
    """The codes' norms are kept between searches: a training update, a
    loaded state and a copy into the codebook each give the nearest codes
    of the new codebook."""
    torch.manual_seed(0)
    vq = EMAVectorQuantizer(dim=4, codebook_size=16, kmeans_iters=0)
    x = torch.randn(50, 4)

    def brute_force():
        return torch.cdist(x, vq.codebook).argmin(dim=1)

    assert torch.equal(vq.encode(x), brute_force())
    vq.update(x, vq.encode(x))
    assert torch.equal(vq.encode(x), brute_force())
    other = EMAVectorQuantizer(dim=4, codebook_size=16, kmeans_iters=0)
    vq.load_state_dict(other.state_dict())
    assert torch.equal(vq.encode(x), brute_force())
    with torch.no_grad():
        vq.codebook.mul_(3.0)
    assert torch.equal(vq.encode(x), brute_force())


def low_rank_codebook(size, dim, rank):
    return torch.randn(size, rank) @ torch.randn(rank, dim)


def test_a_codebook_in_a_subspace_is_searched_there_exactly():
    """Outside training, a codebook that lies in a subspace of half the
    dimensions is searched there, and finds the codes of the full search,
    also after the codebook changes."""
    torch.manual_seed(0)
    vq = EMAVectorQuantizer(dim=32, codebook_size=256, kmeans_iters=0).eval()
    x = torch.randn(200, 32)

    def brute_force():
        return torch.cdist(x, vq.codebook).argmin(dim=1)

    with torch.no_grad():
        vq.codebook.copy_(low_rank_codebook(256, 32, 6))
    assert vq._search_basis() is not None
    assert torch.equal(vq.encode(x), brute_force())
    with torch.no_grad():
        vq.codebook.copy_(low_rank_codebook(256, 32, 10))
    assert torch.equal(vq.encode(x), brute_force())


def test_training_and_spread_codebooks_search_every_dimension():
    torch.manual_seed(0)
    vq = EMAVectorQuantizer(dim=32, codebook_size=256, kmeans_iters=0).eval()
    assert vq._search_basis() is None  # random codes fill every direction
    with torch.no_grad():
        vq.codebook.copy_(low_rank_codebook(256, 32, 6))
    vq.train()
    x = torch.randn(200, 32)
    calls = []
    vq._search_basis = lambda: calls.append(1)
    vq.encode(x)
    assert not calls  # the training search never projects
