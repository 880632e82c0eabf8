"""Side-by-side benchmarks of tqlbuilder against the code users would otherwise write.

Run them all with ``python benchmarks/run.py`` (``--quick`` for a CI-sized smoke run). Every
figure times a baseline and a candidate in the same process, in interleaved rounds, and reports
their ratio: absolute times on a shared machine are noise, ratios are the result. See
``docs/performance.md`` for the recorded table and what each figure measures.
"""
