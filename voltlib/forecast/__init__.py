"""Forecasting the voltages: datasets, baselines, neural models, training, the oracle ceiling and the staircase."""
