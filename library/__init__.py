"""Library learning: Stitch-style top-down compression of program corpora into new procedures.

    >>> import library
    >>> res = library.compress(programs, iterations=10, max_arity=3)   # Logo texts or logo.Program
    >>> res.defs, res.rewritten, res.report

`library.compress_programs` is the generic λ-calculus mode (Stitch's own program format).
"""
from .api import Result, compress, compress_database, library_text, load_library, save_library
from .generic import GenericResult, compress_programs

__all__ = ["Result", "compress", "compress_database", "library_text", "load_library", "save_library", "GenericResult",
           "compress_programs"]
