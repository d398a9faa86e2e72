"""Sextant's transformer core: layers, models, tokenizers, training, registry.

Nothing in this package knows about a domain; apps plug in through
:class:`shared.models.adapters.Adapter`.
"""
