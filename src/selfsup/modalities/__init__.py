"""Modality packages: one folder per kind of data (``image/``, ``timeseries/`` …).

Each holds everything its modality brings — readers and built-in data sets, views, encoders,
and the methods and losses written for it — and registers a typed
:class:`~selfsup.modality.ModalitySpec` when imported. Packages here are imported lazily by
name (:mod:`selfsup.modality`); the core (``losses``, ``methods``, ``nn``, ``engine``,
``eval``) never imports them. ``docs/ADDING_A_MODALITY.md`` walks through adding one.
"""
