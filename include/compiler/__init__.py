"""The intent compiler: natural language to TMF921 v5, to 3GPP TS 28.312 Rel-18, to KRM per site.

Pure Python with no Airflow imports; the same input gives byte-identical output. Kept free of
imports so that small modules (``names``) load fast inside kpt functions; use
``include.compiler.api`` for the whole pipeline.
"""
