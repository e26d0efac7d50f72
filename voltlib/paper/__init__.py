"""The paper's reading of the results: error analysis, comparisons, words, figures and the budget study's curves."""
