"""The objective functions, one module per objective, named after the method or loss it is
(``nt_xent``, ``dcl``, ``moco``, ``byol``, ``barlow_twins``, ``swav``, ``mae`` …); each is usable
without the rest of the library. ``regularizers`` registers the regularisers any method can add.
"""
