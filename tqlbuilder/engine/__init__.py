"""Engine facts as data: the lexicon, the function catalog and the rules shared by every stage.

Imports nothing from the rest of the package; every other folder reads its engine knowledge here.
"""
