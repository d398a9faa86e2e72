"""Key/value caches for incremental decoding.

Self-attention keys and values grow by a few positions per step. They are
written into a preallocated buffer that doubles when full, so a step costs
O(new tokens) copying rather than re-concatenating the whole history.
Cross-attention keys and values are computed once from the encoder output.
"""

from __future__ import annotations

from torch import Tensor


class LayerKVCache:
    """Growing ``[B, H, T, Dh]`` key/value buffers for one self-attention layer."""

    def __init__(self) -> None:
        self.keys: Tensor | None = None
        self.values: Tensor | None = None
        self.length = 0

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add ``[B, H, t, Dh]`` new keys/values; return views of the whole history."""
        new = k.shape[2]
        if self.keys is None:
            capacity = max(16, 2 * new)
            self.keys = k.new_empty(k.shape[0], k.shape[1], capacity, k.shape[3])
            self.values = v.new_empty(self.keys.shape)
        elif self.length + new > self.keys.shape[2]:
            capacity = max(2 * self.keys.shape[2], self.length + new)
            self.keys = self._grow(self.keys, capacity)
            self.values = self._grow(self.values, capacity)
        self.keys[:, :, self.length : self.length + new] = k
        self.values[:, :, self.length : self.length + new] = v
        self.length += new
        return self.keys[:, :, : self.length], self.values[:, :, : self.length]

    def _grow(self, buf: Tensor, capacity: int) -> Tensor:
        bigger = buf.new_empty(buf.shape[0], buf.shape[1], capacity, buf.shape[3])
        bigger[:, :, : self.length] = buf[:, :, : self.length]
        return bigger

    def reorder(self, index: Tensor) -> None:
        """Select batch rows (e.g. surviving beams) in place."""
        if self.keys is not None:
            self.keys = self.keys.index_select(0, index)
            self.values = self.values.index_select(0, index)


class StaticKV:
    """Cross-attention keys/values, computed once per decoding run."""

    def __init__(self) -> None:
        self.keys: Tensor | None = None
        self.values: Tensor | None = None


class KVCache:
    """All the cached state a decoder needs between generation steps."""

    def __init__(self, num_layers: int) -> None:
        self.self_attn = [LayerKVCache() for _ in range(num_layers)]
        self.cross_attn = [StaticKV() for _ in range(num_layers)]

    @property
    def length(self) -> int:
        """Number of positions already decoded (the offset of the next token)."""
        return self.self_attn[0].length if self.self_attn else 0

    def reorder(self, index: Tensor) -> None:
        """Keep batch rows ``index`` (beam search).

        ``index`` must map every row to a row decoding the same source, as beam
        search does; cross-attention K/V are identical within such a group, so
        only the self-attention history has to move.
        """
        for layer in self.self_attn:
            layer.reorder(index)

