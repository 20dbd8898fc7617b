"""Retrieval-quality evaluation of Deja's "have we seen this before?" search.

corpus.py maps the public postmortem corpus and the evaluation queries onto the
deja.v1 API (proto JSON); metrics.py scores ranked results with the reference
definitions of /work/shared/eval/score_bm25.py.
"""
