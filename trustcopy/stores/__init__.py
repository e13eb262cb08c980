"""Signature stores beside registries: registries.d configuration and lookaside stores.

Nothing here talks to a registry: the docker transport asks these modules where an
image's signatures live (:mod:`trustcopy.stores.registries_d`), reads and writes them
(:mod:`trustcopy.stores.lookaside`), and :mod:`trustcopy.stores.where` explains the
choice for ``trustcopy lookaside where``.
"""
