"""The simulated network: Brian2 runs of the Brunel network, restarts from saved states, spikes and wiring."""
