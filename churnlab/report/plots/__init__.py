"""Plots: one public function per module; each takes data and returns a matplotlib Figure.

Nothing here calls ``show()`` or saves a file: the caller (a notebook or a test) decides.
"""
